/**
 * Shared by the harness (Node) and the k6 scripts: pure TypeScript, no Node or k6 import.
 *
 * nginx's stub_status page:
 *
 *   Active connections: 291
 *   server accepts handled requests
 *    16630948 16630948 31070465
 *   Reading: 6 Writing: 179 Waiting: 106
 *
 * Active = Reading + Writing + Waiting. Waiting are idle keep-alive connections, so the requests
 * in flight at nginx are Reading + Writing (HTTP/1.1: one request per connection at a time).
 * Writing includes the connection asking for this very page, and `requests` has counted it.
 */
export interface StubStatus {
  active: number;
  accepts: number;
  handled: number;
  requests: number;
  reading: number;
  writing: number;
  waiting: number;
}

const STUB_STATUS =
  /Active connections:\s*(\d+)\s+server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)\s+Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/;

export function parseStubStatus(text: string): StubStatus {
  const match = STUB_STATUS.exec(text);
  if (match === null) throw new Error(`not an nginx stub_status page: ${JSON.stringify(text.slice(0, 200))}`);
  const [active, accepts, handled, requests, reading, writing, waiting] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { active, accepts, handled, requests, reading, writing, waiting };
}

/** Requests in flight at nginx, leaving out the status request that is asking. */
export function nginxInFlight(status: StubStatus): number {
  return Math.max(0, status.reading + status.writing - 1);
}
