/** Jest's order with the chaos run first and the bench smoke last (test-sequencer.mjs). */
export default class HeavySuitesApart {
  constructor(options: unknown);
  sort<T extends { path: string }>(tests: T[]): Promise<T[]>;
}
