import { connect } from "node:net";
import { parseHostPort } from "../config/index.ts";
import { DfsError } from "../errors.ts";
import {
  clientProof,
  ErrorMsg,
  type FrameHeader,
  type FrameSink,
  FrameType,
  NONCE_BYTES,
  NodeIdMsg,
  newNonce,
  PROOF_BYTES,
  proofsEqual,
  serverProof,
} from "../protocol/index.ts";
import { FrameSocket } from "./frame-socket.ts";
import { onreadOption } from "./socket-reads.ts";
import type { Timeouts } from "./timeouts.ts";

export interface Dialed {
  fs: FrameSocket;
  nodeId: string;
  /** Where frames go from now on; frames that arrive before this is called are dropped. */
  route(sink: FrameSink): void;
}

/**
 * Connects and runs the client side of the handshake (see src/protocol/handshake.ts) within
 * connectMs. The socket reads into the shared buffer from the start (src/transport/socket-reads.ts).
 */
export function dial(addr: string, secret: Buffer, timeouts: Timeouts): Promise<Dialed> {
  const target = parseHostPort(addr);
  if (!target) return Promise.reject(new DfsError("DFS_ERR_BAD_REQUEST", `not a host:port address: ${addr}`));
  let fs: FrameSocket | undefined;
  const socket = connect({
    host: target.host,
    port: target.port,
    noDelay: true,
    onread: onreadOption((chunk) => fs?.push(chunk)),
  });
  const nonceC = newNonce();
  let sink: FrameSink | undefined;
  return new Promise<Dialed>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new DfsError("DFS_ERR_TIMEOUT", `connect to ${addr} timed out`)),
      timeouts.connectMs,
    );
    let settled = false;
    const fail = (err: DfsError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fs!.destroy(err);
      reject(
        err.code === "DFS_ERR_CLOSED"
          ? new DfsError("DFS_ERR_UNAVAILABLE", `${addr}: ${err.message}`, { cause: err })
          : err,
      );
    };
    const handshake = (h: FrameHeader, body: Buffer): void => {
      if (h.type === FrameType.CHALLENGE && body.length === NONCE_BYTES + PROOF_BYTES) {
        const nonceS = body.subarray(0, NONCE_BYTES);
        if (!proofsEqual(body.subarray(NONCE_BYTES), serverProof(secret, nonceC, nonceS))) {
          return fail(new DfsError("DFS_ERR_AUTH", `${addr} does not know the cluster secret`));
        }
        fs!.send(FrameType.AUTH, 0, clientProof(secret, nonceC, nonceS));
      } else if (h.type === FrameType.READY) {
        settled = true;
        clearTimeout(timer);
        const dialed: Dialed = {
          fs: fs!,
          nodeId: NodeIdMsg.decode(body),
          route: (s) => {
            sink = s;
          },
        };
        fs!.onClose(() => {});
        resolve(dialed);
      } else if (h.type === FrameType.ERROR) {
        const e = ErrorMsg.decode(body);
        fail(new DfsError(e.code, `${addr}: ${e.message}`));
      } else {
        fail(new DfsError("DFS_ERR_PROTOCOL", `${addr}: unexpected frame during handshake`));
      }
    };
    fs = new FrameSocket(
      socket,
      {
        onFrame: (h, body) => (sink ? sink.onFrame(h, body) : handshake(h, body)),
        onData: (h, piece) => sink?.onData(h, piece),
        onDataEnd: (h) => sink?.onDataEnd(h),
      },
      true,
    );
    fs.onClose((err) => fail(err ?? new DfsError("DFS_ERR_CLOSED")));
    socket.once("connect", () => fs!.send(FrameType.HELLO, 0, nonceC));
  });
}
