/** A node's tables: versioned records on its disk (LMDB), kept newest-wins; the wire and quorum are src/tables'. */

export type { ApplyResult } from "../../formats/index.ts";
export type { RangeOptions, RangePage } from "./range.ts";
export {
  type TableChange,
  type TableChangeListener,
  TableStore,
  type TableStoreOptions,
} from "./table-store.ts";
