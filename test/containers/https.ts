import assert from 'node:assert/strict';
import { formPost, httpRequest } from '../../app/test/client.ts';

/**
 * Through a deployment's HTTPS front (trusting `caPem`): a form post makes a link to the
 * deployment itself, whose check must reach nginx's internal plain port (SELF_URL, http://nginx:8080);
 * the link's short URL is on `publicUrl`, and it redirects there. Compose and Swarm run the same.
 */
export async function assertSelfLinkOverHttps(publicUrl: string, caPem: string): Promise<void> {
  const created = await httpRequest(`${publicUrl}/`, { ...formPost({ longuri: `${publicUrl}/?self`, shortname: 'self' }), ca: caPem });
  assert.equal(created.status, 303, created.body);
  const bookmark = JSON.parse((await httpRequest(`${publicUrl}/api/bookmarks/self`, { ca: caPem })).body) as {
    shortUrl: string;
    checkStatus: number;
  };
  assert.equal(bookmark.shortUrl, `${publicUrl}/self`);
  assert.equal(bookmark.checkStatus, 200, 'the self-link check reached nginx on http://nginx:8080 (SELF_URL)');
  const redirect = await httpRequest(`${publicUrl}/self`, { ca: caPem });
  assert.equal(redirect.status, 303);
  assert.equal(redirect.headers.location, `${publicUrl}/?self`);
}
