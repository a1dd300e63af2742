import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileAddressMatcher } from '../src/trusted-proxies.ts';

describe('compileAddressMatcher', () => {
  const trusted = compileAddressMatcher(['127.0.0.1', '::1', '10.0.0.0/8']);

  it('matches addresses and ranges, IPv4-mapped peers as IPv4', () => {
    for (const address of ['127.0.0.1', '::1', '10.1.2.3', '::ffff:127.0.0.1', '::ffff:10.9.9.9'])
      assert.equal(trusted(address), true, address);
    for (const address of ['127.0.0.2', '11.0.0.1', '::2', 'not an address', '']) assert.equal(trusted(address), false, address);
  });

  it('gives the same answers when asked again, past the number it remembers', () => {
    // Every X-Forwarded-For hop is asked about: far more distinct addresses than are remembered.
    for (let i = 0; i < 3000; i++) {
      assert.equal(trusted(`10.0.${i >> 8}.${i & 255}`), true);
      assert.equal(trusted(`192.168.${i >> 8}.${i & 255}`), false);
    }
    assert.equal(trusted('127.0.0.1'), true);
    assert.equal(trusted('127.0.0.2'), false);
  });

  it('refuses an entry that is not an address or range', () => {
    assert.throws(() => compileAddressMatcher(['10.0.0.0/99']), /not an IP address or CIDR range/);
    assert.throws(() => compileAddressMatcher(['nginx']), /not an IP address or CIDR range/);
  });
});
