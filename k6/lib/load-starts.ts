// The line a script logs at the end of setup(), when its load is about to start: a harness that
// runs other load beside it (the bench's wrk) waits for it. Pure, so the harness imports it too.
export const LOAD_STARTS = 'linkyard: load starts';
