import { connect } from "node:net";
import { parseHostPort } from "../config/index.ts";
import { DfsError, toDfsError } from "../errors.ts";
import {
  ErrorMsg,
  encodeHeader,
  type FrameHeader,
  type FrameSink,
  FrameType,
  HandshakeSizes,
  TAG_BYTES,
} from "../protocol/index.ts";
import { FrameSocket } from "./frame-socket.ts";
import { ClientHandshake, type LinkTrust, type Peer } from "./link.ts";
import { onreadOption } from "./socket-reads.ts";
import type { Timeouts } from "./timeouts.ts";

export interface Dialed {
  fs: FrameSocket;
  /** The node at the other end, from its credential. */
  peer: Peer;
  /** Where frames go from now on; frames that arrive before this is called are dropped. */
  route(sink: FrameSink): void;
}

function refuse(message: string): DfsError {
  return new DfsError("DFS_ERR_PROTOCOL", message);
}

/** Before the keys: only the frame the handshake expects next, at its size, or a short ERROR. */
function admitter(expect: () => "server-hello" | "ready"): (h: FrameHeader) => void {
  return (h) => {
    if (h.requestId !== 0) throw refuse("handshake frames use request id 0");
    if (h.type === FrameType.ERROR) {
      if (h.length > HandshakeSizes.ERROR_MAX) throw refuse("ERROR too long during the handshake");
      return;
    }
    if (expect() === "server-hello") {
      if (h.type !== FrameType.SERVER_HELLO) throw refuse("expected SERVER_HELLO");
      if (h.length < HandshakeSizes.SERVER_HELLO_MIN || h.length > HandshakeSizes.SERVER_HELLO_MAX)
        throw refuse("SERVER_HELLO of a wrong size");
    } else if (h.type !== FrameType.READY || h.length !== TAG_BYTES) {
      throw refuse("expected READY");
    }
  };
}

/**
 * Connects and runs the client side of the handshake (src/protocol/handshake.ts,
 * src/transport/link.ts) within connectMs. `expectedNodeId`: the id the registry gives for `addr`;
 * the node there must hold a credential for exactly that id. Undefined: any node credential of our
 * authority is accepted (the caller learns which node answered from `peer`). The socket reads into
 * the shared buffer from the start (src/transport/socket-reads.ts).
 */
export function dial(
  addr: string,
  trust: LinkTrust,
  expectedNodeId: string | undefined,
  timeouts: Timeouts,
): Promise<Dialed> {
  const target = parseHostPort(addr);
  if (!target) return Promise.reject(new DfsError("DFS_ERR_BAD_REQUEST", `not a host:port address: ${addr}`));
  let fs: FrameSocket | undefined;
  const socket = connect({
    host: target.host,
    port: target.port,
    noDelay: true,
    onread: onreadOption((chunk) => fs?.push(chunk)),
  });
  const hs = new ClientHandshake(trust, expectedNodeId);
  let stage: "server-hello" | "ready" = "server-hello";
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
      if (h.type === FrameType.ERROR) {
        const e = ErrorMsg.decode(body);
        return fail(new DfsError(e.code, `${addr}: ${e.message}`));
      }
      if (stage === "server-hello") {
        stage = "ready";
        fs!.send(FrameType.AUTH, 0, hs.onServerHello(body, addr));
        return;
      }
      // READY is the first frame under the server's key: opening it proves the server has the keys.
      const keys = hs.keys;
      keys.receive.open(encodeHeader(FrameType.READY, 0, body.length, h.flags), body);
      fs!.secure(keys);
      settled = true;
      clearTimeout(timer);
      fs!.onClose(() => {});
      resolve({
        fs: fs!,
        peer: hs.peer,
        route: (s) => {
          sink = s;
        },
      });
    };
    fs = new FrameSocket(
      socket,
      {
        onFrame: (h, body) => {
          if (sink) return sink.onFrame(h, body);
          if (settled) return;
          try {
            handshake(h, body);
          } catch (err) {
            fail(toDfsError(err, "DFS_ERR_AUTH"));
          }
        },
        onData: (h, piece) => sink?.onData(h, piece),
        onDataEnd: (h) => sink?.onDataEnd(h),
      },
      true,
    );
    fs.admit = admitter(() => stage);
    fs.onClose((err) => fail(err ?? new DfsError("DFS_ERR_CLOSED")));
    socket.once("connect", () => fs!.send(FrameType.HELLO, 0, hs.helloBody()));
  });
}
