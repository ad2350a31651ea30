/** Pure placement: (object id, live nodes) -> nodes in preference order; where table records live. No I/O. */
export {
  DEFAULT_PARTITIONS,
  MAX_NODES,
  ORDER_LENGTH,
  Placement,
  type PlacementNode,
  type PlacementOptions,
} from "./placement.ts";
export { RECORD_PARTITIONS, recordPartition, recordPlacementId } from "./records.ts";
