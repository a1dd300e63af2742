import { luaString, WRK_REPORT_HOOKS } from '../bench/load/wrk.ts';
import { MAX_LINKS, type NameKey } from '../dataset/plan.ts';

/**
 * wrk's Lua for redirects to names drawn from a Zipf law (s = 1) over all of a dataset's links.
 * The names are made as the generator makes them (dataset/plan.ts nameOf and indexOfRank), from
 * the plan's key: no list of ten million names to load into each wrk thread. math.fmod, not `%`:
 * LuaJIT's `%` is a − floor(a/b)·b, inexact for the products near 2^50 the codes take; fmod is exact.
 * A rank is drawn as floor((N + 1)^u): P(rank = k) = ln((k + 1)/k) / ln(N + 1), the continuous
 * form of 1/(k · H(N)).
 */
export function renderZipfScript(key: NameKey, links: number): string {
  return `-- Rendered by loadtest/src/scale/zipf-lua.ts: Zipf redirects over ${links} links.
local links = ${links}
local rank_stride = ${key.rankStride}
local rank_offset = ${key.rankOffset}
local multiplier = ${key.multiplier}
local offset = ${key.offset}
local max_links = ${MAX_LINKS}
local code_digits = "0123456789abcdefghijklmnopqrstuvwxyz"
local prefix_letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
local fmod, floor, random, log, exp = math.fmod, math.floor, math.random, math.log, math.exp
local log_span = log(links + 1)
statuses = {}

function init(args)
  math.randomseed(os.time() + floor(os.clock() * 1000000) + (args[1] and #args[1] or 0))
end

local function name_of(index)
  local code = fmod(index * multiplier + offset, max_links)
  local digits = {}
  local rest = code
  for i = 5, 1, -1 do
    local d = fmod(rest, 36)
    digits[i] = code_digits:sub(d + 1, d + 1)
    rest = floor(rest / 36)
  end
  local prefix = {}
  for j = 1, fmod(code, 7) do
    local p = fmod(code * 31 + j * 17 + index, 52)
    prefix[j] = prefix_letters:sub(p + 1, p + 1)
  end
  return table.concat(prefix) .. table.concat(digits) .. tostring(fmod(code + index, 10))
end

function request()
  local rank = floor(exp(random() * log_span))
  if rank > links then rank = links end
  local index = fmod((rank - 1) * rank_stride + rank_offset, links)
  return wrk.format("GET", "/" .. name_of(index))
end

${WRK_REPORT_HOOKS}`;
}

/** wrk's Lua for redirects cycling through a fixed set of names (the hot set: every one in memory). */
export function renderNamesScript(names: readonly string[]): string {
  if (names.length === 0) throw new Error('no names to send');
  return `-- Rendered by loadtest/src/scale/zipf-lua.ts: redirects over ${names.length} names.
local names = { ${names.map((name) => luaString(`/${name}`)).join(', ')} }
local next_index = 0
statuses = {}

function request()
  next_index = next_index + 1
  return wrk.format("GET", names[next_index % #names + 1])
end

${WRK_REPORT_HOOKS}`;
}
