/** The SQLite search reader's thread (sqlite-search-reader.ts): one search at a time, in order. */
import { prepareSearchRead, type SearchRead, type SearchRow } from './sqlite.ts';
import { serveSqliteThread } from './sqlite-thread.ts';

serveSqliteThread<SearchRead, SearchRow[]>(prepareSearchRead);
