/**
 * Asks nodes in placement order: `need` at once, then more, one per missing answer, while some give
 * none (undefined: down, or a bad copy), until `need` have answered, `enough` says so, or `addrs`
 * runs out. Returns the answers and how many of `addrs` were asked.
 */
export async function askInTurn<T>(
  addrs: readonly string[],
  need: number,
  ask: (addr: string) => Promise<T | undefined>,
  enough: (answers: readonly T[]) => boolean = () => false,
): Promise<{ answers: T[]; asked: number }> {
  const answers: T[] = [];
  let asked = 0;
  while (answers.length < need && asked < addrs.length && !enough(answers)) {
    const batch = addrs.slice(asked, asked + need - answers.length);
    asked += batch.length;
    for (const answer of await Promise.all(batch.map(ask))) if (answer !== undefined) answers.push(answer);
  }
  return { answers, asked };
}
