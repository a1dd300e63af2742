import { REFUSING_STATUSES } from '../check/types.ts';
import { unreachableSince } from '../services/rechecks.ts';
import { type Bookmark, NOT_CHECKED } from '../store/types.ts';
import { escapeHtml as e } from './html.ts';

/** A moment to the minute, in UTC (the page says so). */
function utcMinute(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The last check's result, for the list and the stats page: the status and when, a re-check that
 * failed once, or a target flagged unreachable (the link still redirects). Spelled out rather than
 * in a title attribute, which touch screens and keyboards never show.
 */
export function checkBadge(bookmark: Bookmark): string {
  const since = unreachableSince(bookmark);
  if (since !== null) {
    return `<span class="badge dead">✗ Target unreachable since ${e(utcMinute(since))}</span><span class="note">${e(bookmark.checkError ?? 'the check failed')}; the link still redirects</span>`;
  }
  if (bookmark.checkStatus === NOT_CHECKED) return '<span class="badge">Not checked</span><span class="note">Imported</span>';
  const checked = `<time datetime="${bookmark.checkedAt.toISOString()}">${bookmark.checkedAt.toISOString().slice(0, 10)}</time>`;
  const failedOnce =
    bookmark.checkFailures > 0 ? `<span class="note">The last re-check failed (${e(bookmark.checkError ?? 'no reason')})</span>` : '';
  if (REFUSING_STATUSES.has(bookmark.checkStatus)) {
    return `<span class="badge warn">⚠ HTTP ${bookmark.checkStatus}</span><span class="note">Up, but it refuses robots; checked ${checked}</span>${failedOnce}`;
  }
  return `<span class="badge ok">✓ HTTP ${bookmark.checkStatus}</span><span class="note">Checked ${checked}</span>${failedOnce}`;
}
