// Tests that need root: skipped with a visible message when not root, failed under CI=true.
export const isRoot = process.getuid?.() === 0;

export function describeAsRoot(name: string, body: () => void): void {
  if (isRoot) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      test('needs root (CI=true does not allow skipping)', () => {
        throw new Error(`"${name}" needs root; CI must run as root`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": needs root (run the suite with sudo)`);
  describe.skip(name, body);
}
