/** Pure placement: (object id, live nodes) -> nodes in preference order. No I/O. */
export {
  DEFAULT_PARTITIONS,
  MAX_NODES,
  ORDER_LENGTH,
  Placement,
  type PlacementNode,
  type PlacementOptions,
} from "./placement.ts";
