import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  parsePasswordHash,
  passwordHashProblem,
  verifyPassword,
} from '../../../src/devices/password.js';
import { isBridgeError } from '../../../src/errors.js';

const fast = { N: 1024, r: 8, p: 1 };

describe('hashPassword / verifyPassword', () => {
  it('round-trips, with a fresh salt each time', async () => {
    const a = await hashPassword('pump7-demo', fast);
    const b = await hashPassword('pump7-demo', fast);
    expect(a).toMatch(/^scrypt:1024:8:1:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/);
    expect(a).not.toBe(b);
    await expect(verifyPassword(a, 'pump7-demo')).resolves.toBe(true);
    await expect(verifyPassword(a, Buffer.from('pump7-demo'))).resolves.toBe(true);
    await expect(verifyPassword(a, 'pump7-demO')).resolves.toBe(false);
    await expect(verifyPassword(a, '')).resolves.toBe(false);
  });

  it('uses N=16384, r=8, p=1 by default', async () => {
    const hash = await hashPassword('x');
    expect(hash.startsWith('scrypt:16384:8:1:')).toBe(true);
    await expect(verifyPassword(hash, 'x')).resolves.toBe(true);
  });

  it('hashes non-ASCII passwords as UTF-8', async () => {
    const hash = await hashPassword('pässwörd-ü', fast);
    await expect(verifyPassword(hash, Buffer.from('pässwörd-ü', 'utf8'))).resolves.toBe(true);
  });

  it('refuses an empty password and bad parameters', async () => {
    await expect(hashPassword('')).rejects.toSatisfy((err) => isBridgeError(err, 'ERR_CONFIG_INVALID'));
    await expect(hashPassword('x', { N: 1000, r: 8, p: 1 })).rejects.toSatisfy((err) =>
      isBridgeError(err, 'ERR_CONFIG_INVALID'),
    );
  });

  it.each([
    'hunter2',
    '',
    'scrypt:',
    'scrypt:16384:8:1:c2FsdHNhbHQ=',
    'scrypt:1000:8:1:c2FsdHNhbHQ=:aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt:16384:0:1:c2FsdHNhbHQ=:aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt:16384:8:99:c2FsdHNhbHQ=:aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt:1048576:32:1:c2FsdHNhbHQ=:aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt:16384:8:1:not base64!:aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt:16384:8:1:c2FsdA==:aGFzaGhhc2hoYXNoaGFzaA==',
    'scrypt:16384:8:1:c2FsdHNhbHQ=:aGFzaA==',
    '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
    '$2b$10$abcdefghijklmnopqrstuv',
  ])('a malformed hash %j is a problem and never verifies', async (hash) => {
    expect(passwordHashProblem(hash)).toEqual(expect.any(String));
    expect('error' in parsePasswordHash(hash)).toBe(true);
    await expect(verifyPassword(hash, 'hunter2')).resolves.toBe(false);
  });

  it('says a plain password is not a hash', () => {
    expect(passwordHashProblem('hunter2')).toMatch(/not a plain password/);
  });
});
