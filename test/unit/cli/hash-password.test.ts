import { describe, expect, it } from 'vitest';
import { hashPasswordCommand } from '../../../src/cli/hash-password.js';
import { verifyPassword } from '../../../src/devices/password.js';
import { captureIo } from './helpers.js';

describe('hash-password', () => {
  it.each([
    ['s3cret-pump7', 's3cret-pump7'],
    ['with newline\n', 'with newline'],
    ['first\r\nsecond\n', 'first'],
  ])('hashes the first line of standard input (%j)', async (input, password) => {
    const io = captureIo('.', input);
    expect(await hashPasswordCommand([], io)).toBe(0);
    const hash = io.out.trim();
    expect(hash).toMatch(/^scrypt:16384:8:1:/);
    expect(await verifyPassword(hash, password)).toBe(true);
    expect(io.out).not.toContain(password);
  });

  it('refuses an empty password (exit 1)', async () => {
    const io = captureIo('.', '\n');
    expect(await hashPasswordCommand([], io)).toBe(1);
    expect(io.err).toMatch(/must not be empty/);
  });
});
