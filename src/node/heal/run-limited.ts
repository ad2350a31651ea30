/** Runs thunks with at most `limit` in flight. */
export async function runLimited(work: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < work.length) await work[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, work.length) }, lane));
}
