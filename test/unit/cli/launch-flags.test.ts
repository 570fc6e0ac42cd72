import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');

describe('the Node flags of the bridge', () => {
  it('are the same for `npm start` and for the mqtt-sms-bridge command (the launcher line)', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      bin: Record<string, string>;
    };
    const start = pkg.scripts.start?.match(/^node (.*)dist\/launch\.js start$/)?.[1]?.trim();
    const shebang = readFileSync(path.join(root, 'src/launch.ts'), 'utf8')
      .split('\n', 1)[0]
      ?.match(/^#!\/usr\/bin\/env -S node (.*)$/)?.[1]
      ?.trim();
    expect(start).toBeDefined();
    expect(shebang).toBe(start);
    expect(pkg.bin['mqtt-sms-bridge']).toBe('dist/launch.js');
    // and the image's entry point
    const entry = readFileSync(path.join(root, 'Dockerfile'), 'utf8').match(/^ENTRYPOINT (\[.*\])$/m)?.[1];
    const args = (JSON.parse(entry ?? '[]') as string[]).slice(3);
    expect(args.join(' ')).toBe(`${start} dist/launch.js`);
    // and the start that writes the image's code cache (keyed by the flags: other flags, and it would be ignored)
    const warm = readFileSync(path.join(root, 'Dockerfile'), 'utf8').match(
      /^RUN sh scripts\/warm-code-cache\.sh node (.*)$/m,
    )?.[1];
    expect(warm?.trim()).toBe(start);
  });
});
