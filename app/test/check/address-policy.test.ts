import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { buildConnector } from 'undici';
import { eventually } from '../../../test/support/index.ts';
import { ipLiteral, isPublicAddress } from '../../src/check/address-policy.ts';
import { guardedConnector, publicOnlyLookup } from '../../src/check/guarded-connector.ts';
import { startCheckTarget } from './fixtures/target.ts';

const FORBIDDEN = [
  // loopback, every notation ipaddr.js (and old inet_aton) accepts
  '127.0.0.1',
  '127.1',
  '127.255.255.254',
  '0x7f.1',
  '0x7f000001',
  '2130706433',
  '017700000001',
  '0177.0.0.1',
  '::1',
  '0:0:0:0:0:0:0:1',
  // IPv4-mapped IPv6 is judged as the IPv4 inside
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '0:0:0:0:0:ffff:7f00:1',
  '::ffff:10.0.0.1',
  '::ffff:169.254.169.254',
  // private, carrier-grade NAT, link-local (cloud metadata), unique-local, site/link-scoped v6
  '10.0.0.1',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '100.64.0.1',
  '100.127.255.254',
  '169.254.169.254',
  '169.254.0.1',
  'fe80::1',
  'fe80::1%eth0',
  'fc00::1',
  'fd12:3456:789a::1',
  // unspecified, broadcast, multicast, reserved and documentation ranges
  '0.0.0.0',
  '0',
  '::',
  '255.255.255.255',
  '224.0.0.1',
  '239.255.255.250',
  'ff02::1',
  'ff05::1:3',
  '240.0.0.1',
  '192.0.2.1',
  '198.51.100.7',
  '203.0.113.9',
  '198.18.0.1',
  '2001:db8::1',
  // IPv6 transition ranges that embed an IPv4 address
  '64:ff9b::7f00:1',
  '2002:7f00:1::',
  '2001::1',
  // not an address at all
  'localhost',
  'example.com',
  '',
  '1.2.3.4.5',
  '::ffff:999.0.0.1',
];

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '0x08.0x08.0x08.0x08',
  '134744072',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
];

test('only public unicast addresses pass, in any notation', () => {
  for (const address of FORBIDDEN) assert.equal(isPublicAddress(address), false, address);
  for (const address of ALLOWED) assert.equal(isPublicAddress(address), true, address);
});

test('URL hosts in odd notations normalise to a literal the policy refuses', () => {
  const hosts = [
    '2130706433',
    '0x7f.1',
    '0177.0.0.1',
    '127.1',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '[0:0:0:0:0:ffff:7f00:1]',
    '169.254.169.254',
    '0',
  ];
  for (const host of hosts) {
    const literal = ipLiteral(new URL(`http://${host}:8080/`).hostname);
    assert.notEqual(literal, null, host);
    assert.equal(isPublicAddress(literal ?? ''), false, host);
  }
  assert.equal(ipLiteral('example.com'), null);
  assert.equal(ipLiteral('[::1]'), '::1');
  assert.equal(ipLiteral('::1'), '::1');
});

function connect(connector: buildConnector.connector, target: { hostname: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    connector({ hostname: target.hostname, protocol: 'http:', port: String(target.port) }, (error, socket) => {
      if (error) reject(error);
      else resolve(socket as Socket);
    });
  });
}

const strict = { connectTimeoutMs: 1000, allowPrivate: false, selfOrigin: 'http://linkyard.invalid', selfVia: 'http://linkyard.invalid' };

test('the connector refuses private literals and names without opening a socket', async (t) => {
  const v4 = await startCheckTarget(t, '127.0.0.1');
  const v6 = await startCheckTarget(t, '::1');
  const connector = guardedConnector(strict);
  await assert.rejects(connect(connector, { hostname: '127.0.0.1', port: v4.port }), { code: 'ERR_FORBIDDEN_ADDRESS' });
  await assert.rejects(connect(connector, { hostname: '::1', port: v6.port }), { code: 'ERR_FORBIDDEN_ADDRESS' });
  await assert.rejects(connect(connector, { hostname: '::ffff:127.0.0.1', port: v4.port }), { code: 'ERR_FORBIDDEN_ADDRESS' });
  // A name goes through the validating lookup: localhost is loopback however it resolves.
  await assert.rejects(connect(connector, { hostname: 'localhost', port: v4.port }), {
    code: 'ERR_FORBIDDEN_ADDRESS',
    message: /^localhost resolves to /,
  });
  assert.equal(v4.connections, 0);
  assert.equal(v6.connections, 0);
});

test('the connector lets the service reach itself, and everything through when private is allowed', async (t) => {
  const v4 = await startCheckTarget(t, '127.0.0.1');
  const self = guardedConnector({ ...strict, selfOrigin: v4.origin });
  (await connect(self, { hostname: '127.0.0.1', port: v4.port })).destroy();
  // Same host, another port: another origin, so refused again.
  await assert.rejects(connect(self, { hostname: '127.0.0.1', port: v4.port + 1 }), { code: 'ERR_FORBIDDEN_ADDRESS' });

  const open = guardedConnector({ ...strict, allowPrivate: true });
  (await connect(open, { hostname: 'localhost', port: v4.port })).destroy();
  assert.ok(await eventually(() => v4.connections === 2));
});

test('the validating lookup answers public literals in both shapes net asks for', async () => {
  const single = await new Promise<[string, number | undefined]>((resolve, reject) => {
    publicOnlyLookup('8.8.8.8', {}, (error, address, family) => (error ? reject(error) : resolve([address as string, family])));
  });
  assert.deepEqual(single, ['8.8.8.8', 4]);
  const all = await new Promise<unknown>((resolve, reject) => {
    publicOnlyLookup('2606:4700:4700::1111', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
  assert.deepEqual(all, [{ address: '2606:4700:4700::1111', family: 6 }]);
  await assert.rejects(
    new Promise((resolve, reject) => {
      publicOnlyLookup('127.0.0.1', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
    }),
    { code: 'ERR_FORBIDDEN_ADDRESS' },
  );
});
