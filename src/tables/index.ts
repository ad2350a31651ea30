/**
 * Table records across the cluster: quorum writes, reads and range reads over each record's R
 * owners, newest-wins, with read-repair (client.ts); which nodes those are (owners.ts); and the
 * askInTurn helper reads use, the gateway's object reads too. Imports no registry and no gateway:
 * it is given the owners of a placement id in order.
 */
export { type AskOptions, askInTurn, HEDGE_AFTER_MS } from "./ask-in-turn.ts";
export {
  type RecordWrite,
  TableClient,
  type TableClientOptions,
  type TableRangeOptions,
  type TableRangePage,
} from "./client.ts";
export { type LiveNodes, LiveOrder } from "./owners.ts";
export { writeBatches, writeTo } from "./write.ts";
