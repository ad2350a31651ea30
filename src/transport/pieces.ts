import type { Readable } from "node:stream";

/**
 * Iterates a stream's buffers one by one, as they were pushed. `for await (x of stream)` reads in
 * paused mode, where Node concatenates everything buffered into a new Buffer on each read: a
 * copy of every byte, into fresh memory, which is the expensive kind here. Flowing mode hands
 * over each buffer untouched; the stream is paused while the consumer is behind.
 */
export async function* pieces(stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (piece: Buffer) => {
    queue.push(piece);
    if (queue.length >= 4) stream.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: Error) => {
    failure = err;
    notify();
  };
  const onClose = () => {
    if (!ended && !failure)
      failure = Object.assign(new Error("stream closed before its end"), {
        code: "ERR_STREAM_PREMATURE_CLOSE",
      });
    notify();
  };
  // Destroyed before we came: its error and close events are gone, so ask it instead.
  if (stream.errored) throw stream.errored;
  if (stream.destroyed && !stream.readableEnded) onClose();
  stream.on("data", onData);
  stream.on("end", onEnd);
  stream.on("error", onError);
  stream.on("close", onClose);
  try {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        if (queue.length === 0 && stream.isPaused()) stream.resume();
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stream.off("data", onData);
    stream.off("end", onEnd);
    stream.off("error", onError);
    stream.off("close", onClose);
    if (!ended) stream.destroy();
  }
}
