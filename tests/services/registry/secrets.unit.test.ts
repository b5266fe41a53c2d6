import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashToken, newToken, verifyToken } from '../../../services/registry/secrets.ts';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

describe('newToken', () => {
  it('carries at least 128 bits of entropy as base64url after the prefix', () => {
    const token = newToken('sus_dev_');
    expect(token.startsWith('sus_dev_')).toStrictEqual(true);
    const body = token.slice('sus_dev_'.length);
    expect(BASE64URL.test(body)).toStrictEqual(true);
    // 22 base64url characters carry 132 bits; 24 random bytes encode to exactly 32.
    expect(body.length).toBeGreaterThanOrEqual(22);
    expect(body.length).toStrictEqual(32);
    expect(Buffer.from(body, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });

  it('has no prefix by default', () => {
    const token = newToken();
    expect([token.length, BASE64URL.test(token)]).toStrictEqual([32, true]);
  });

  it('is unique over 1000 draws', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newToken('k_')));
    expect(tokens.size).toStrictEqual(1000);
  });
});

describe('hashToken', () => {
  it('is the lowercase hex SHA-256 of the UTF-8 token', () => {
    expect(hashToken('abc')).toStrictEqual('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashToken('Grüße')).toStrictEqual(createHash('sha256').update(Buffer.from('Grüße', 'utf8')).digest('hex'));
  });

  it('is deterministic and 64 hex characters long', () => {
    const t = newToken();
    expect(hashToken(t)).toStrictEqual(hashToken(t));
    expect(/^[0-9a-f]{64}$/.test(hashToken(t))).toStrictEqual(true);
  });
});

describe('verifyToken', () => {
  it('is true for the token that produced the stored hash', () => {
    const t = newToken('sus_');
    expect(verifyToken(t, hashToken(t))).toStrictEqual(true);
  });

  it('is false for a wrong token', () => {
    const t = newToken('sus_');
    expect(verifyToken(newToken('sus_'), hashToken(t))).toStrictEqual(false);
    expect(verifyToken(`${t}x`, hashToken(t))).toStrictEqual(false);
    expect(verifyToken('', hashToken(t))).toStrictEqual(false);
  });

  it('is false for a stored hash of the wrong length, without throwing', () => {
    const t = newToken();
    const h = hashToken(t);
    expect(verifyToken(t, h.slice(0, 62))).toStrictEqual(false);
    expect(verifyToken(t, '')).toStrictEqual(false);
    expect(verifyToken(t, `${h}00`)).toStrictEqual(false);
    expect(verifyToken(t, 'not hex at all')).toStrictEqual(false);
  });

  it('accepts the token as a Buffer', () => {
    const t = newToken('dev_');
    expect(verifyToken(Buffer.from(t, 'utf8'), hashToken(t))).toStrictEqual(true);
    expect(verifyToken(Buffer.from(`${t}!`, 'utf8'), hashToken(t))).toStrictEqual(false);
  });

  it('accepts a stored hash in uppercase hex', () => {
    const t = newToken();
    expect(verifyToken(t, hashToken(t).toUpperCase())).toStrictEqual(true);
  });
});
