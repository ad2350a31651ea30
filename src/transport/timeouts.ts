/** Per-phase timeouts of the node protocol (undici-style: one per phase, all in ms). */
export interface Timeouts {
  /** TCP connect plus handshake (client side). */
  connectMs: number;
  /** Server side: a connection not authenticated this long after accept is closed, however it trickles. */
  handshakeMs: number;
  /** A request with no progress (no frame of its own in either direction) for this long fails. */
  requestMs: number;
  /** A connection with nothing in flight is closed after this long. */
  idleMs: number;
  /** A frame (or handshake) that stalls part-way for this long gets the connection closed. */
  frameMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 5000,
  handshakeMs: 3000,
  requestMs: 30_000,
  idleMs: 60_000,
  frameMs: 10_000,
});
