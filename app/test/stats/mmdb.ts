/**
 * Writes a small MaxMind DB (MMDB 2.0) file for the GeoIP tests: IPv4 networks mapped to country
 * codes, as a GeoLite2-Country file holds them. No MMDB writer turned up on npm (the one named
 * mmdb-writer is a Python package), and the reader is what ships (the maxmind package); the
 * format is small:
 * https://maxmind.github.io/MaxMind-DB/ (search tree, 16 zero bytes, data section, metadata).
 */
import { writeFileSync } from 'node:fs';

type Value = string | number | bigint | Value[] | { [key: string]: Value };

function control(type: number, size: number): Buffer {
  if (size >= 29) throw new Error('sizes of 29 and more are not needed here');
  // Types above 7 are "extended": type 0 in the control byte, type - 7 in the next.
  return type <= 7 ? Buffer.from([(type << 5) | size]) : Buffer.from([size, type - 7]);
}

function unsigned(type: number, value: number | bigint): Buffer {
  let hex = BigInt(value).toString(16);
  if (hex === '0') hex = '';
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return Buffer.concat([control(type, bytes.length), bytes]);
}

function encode(value: Value): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'bigint') return unsigned(9, value);
  if (typeof value === 'number') return unsigned(value < 2 ** 16 ? 5 : 6, value);
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([key, item]) => [encode(key), encode(item)])]);
}

interface TreeNode {
  children: [TreeNode | number | undefined, TreeNode | number | undefined];
}

/** `networks`: CIDR (IPv4) → ISO country code. */
export function writeCountryMmdb(file: string, networks: Readonly<Record<string, string>>): void {
  const records: Buffer[] = [];
  const offsets = new Map<string, number>();
  let dataLength = 0;
  const root: TreeNode = { children: [undefined, undefined] };
  for (const [cidr, country] of Object.entries(networks)) {
    let offset = offsets.get(country);
    if (offset === undefined) {
      const record = encode({ country: { iso_code: country } });
      offset = dataLength;
      offsets.set(country, offset);
      records.push(record);
      dataLength += record.length;
    }
    const [address = '', bitsText = '32'] = cidr.split('/');
    const bits = Number(bitsText);
    const value = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
    let node = root;
    for (let depth = 0; depth < bits; depth++) {
      const bit = (value >>> (31 - depth)) & 1;
      if (depth === bits - 1) {
        node.children[bit] = offset;
        break;
      }
      const next = node.children[bit];
      if (typeof next === 'number') throw new Error(`${cidr} lies inside another network`);
      const child: TreeNode = next ?? { children: [undefined, undefined] };
      node.children[bit] = child;
      node = child;
    }
  }
  const nodes: TreeNode[] = [];
  const number = (node: TreeNode) => {
    nodes.push(node);
    for (const child of node.children) if (typeof child === 'object') number(child);
  };
  number(root);
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach((node, index) => {
    node.children.forEach((child, side) => {
      // A node's number, the node count for "no data", or past it (and the 16-byte gap) for data.
      const record = child === undefined ? nodeCount : typeof child === 'number' ? nodeCount + 16 + child : nodes.indexOf(child);
      tree.writeUIntBE(record, index * 6 + side * 3, 3);
    });
  });
  const metadata = encode({
    node_count: nodeCount,
    record_size: 24,
    ip_version: 4,
    database_type: 'linkyard-test-Country',
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: BigInt(Math.floor(Date.now() / 1000)),
    description: { en: 'linkyard test countries' },
  });
  const marker = Buffer.concat([Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com')]);
  writeFileSync(file, Buffer.concat([tree, Buffer.alloc(16), ...records, marker, metadata]));
}
