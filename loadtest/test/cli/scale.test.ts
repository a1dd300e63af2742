import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/cli/arguments.ts';
import { parseScaleArgs } from '../../src/cli/scale.ts';
import { SCALE_DEFAULTS } from '../../src/scale/options.ts';

describe('bench:scale arguments', () => {
  it("passes each redirect-cache lever and the export's runs on, and leaves the apps' defaults without them", () => {
    const { options } = parseScaleArgs(['--redirect-cache-ms', '60000', '--redirect-cache-names', '50000', '--export-runs', '2']);
    assert.equal(options.redirectCacheMs, 60_000);
    assert.equal(options.redirectCacheNames, 50_000);
    assert.equal(options.exportRuns, 2);
    const defaults = parseScaleArgs([]).options;
    assert.equal(defaults.redirectCacheNames, undefined);
    assert.equal(defaults.exportRuns, SCALE_DEFAULTS.exportRuns);
  });

  it('refuses a lever that is not a positive number', () => {
    assert.throws(() => parseScaleArgs(['--redirect-cache-names', 'many']), UsageError);
    assert.throws(() => parseScaleArgs(['--export-runs', '0']), UsageError);
  });
});
