/**
 * The compose nginx container's configuration, assembled outside Docker so Debian's nginx can
 * check and run it: the files mounted into the container, the image's template step, then the
 * few stand-ins Debian's nginx 1.22 needs (below). Everything else is the file the container reads.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { environment, mounts, ROOT, service, type YamlMap } from '../../test/compose/compose-files.ts';

/**
 * Lays out what the nginx service sees under `containerRoot`: every bind mount from the
 * repository at its target, then the official image's entrypoint step that copies each
 * `*.template` under NGINX_ENVSUBST_TEMPLATE_DIR to NGINX_ENVSUBST_OUTPUT_DIR, filling in the
 * environment variables whose names match NGINX_ENVSUBST_FILTER (as its `envsubst` does: only
 * those names, so nginx's own `$variables` are left alone). Returns the nginx.conf path.
 */
export function assembleNginxContainer(compose: YamlMap, containerRoot: string): string {
  const nginx = service(compose, 'nginx');
  for (const mount of mounts(nginx, 'nginx')) {
    if (!mount.source.startsWith('./')) continue;
    cpSync(join(ROOT, mount.source), join(containerRoot, mount.target), { recursive: true });
  }

  const env = environment(nginx, 'nginx');
  const templateDir = join(containerRoot, env.NGINX_ENVSUBST_TEMPLATE_DIR ?? '/etc/nginx/templates');
  const suffix = env.NGINX_ENVSUBST_TEMPLATE_SUFFIX ?? '.template';
  const outputDir = join(containerRoot, env.NGINX_ENVSUBST_OUTPUT_DIR ?? '/etc/nginx/conf.d');
  const filter = new RegExp(env.NGINX_ENVSUBST_FILTER ?? '');
  const defined = new Map(Object.entries(env).filter(([name]) => filter.test(name)));
  for (const template of filesUnder(templateDir).filter((file) => file.endsWith(suffix))) {
    const output = join(outputDir, relative(templateDir, template).slice(0, -suffix.length));
    const rendered = readFileSync(template, 'utf8').replace(
      /\$\{(\w+)\}|\$(\w+)/g,
      (whole, braced: string | undefined, bare: string | undefined) => defined.get(braced ?? bare ?? '') ?? whole,
    );
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, rendered);
  }
  return join(containerRoot, 'etc/nginx/nginx.conf');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

function replaceAll(text: string, pattern: RegExp, replacement: (match: string, group: string) => string, what: string): string {
  assert.ok(pattern.global, 'a global pattern');
  assert.ok(text.match(pattern) !== null, `expected ${what} (${pattern}) in the compose nginx config; the stand-in no longer applies`);
  return text.replace(pattern, (match: string, group: unknown) => replacement(match, typeof group === 'string' ? group : ''));
}

/**
 * upstream.conf as Debian's nginx 1.22 accepts it. `resolve` and an upstream-level `resolver`
 * need nginx ≥ 1.27.3 (the image has 1.29), and `app1` only resolves on the compose network, so
 * the resolver lines go, `resolve` goes, and each `service:port` becomes the address given for
 * that service. The zone and the passive-check parameters stay as they are.
 */
export function upstreamForDebianNginx(upstream: string, addresses: Readonly<Record<string, string>>): string {
  const withoutResolver = replaceAll(upstream, /^resolver(?:_timeout)? .*\n/gm, () => '', 'resolver lines');
  const unresolved = replaceAll(withoutResolver, / resolve\b/g, () => '', "servers' resolve parameter");
  return replaceAll(
    unresolved,
    /^server ([\w-]+):\d+/gm,
    (_match, name) => {
      const address = addresses[name];
      assert.ok(address !== undefined, `no address for upstream server ${name}`);
      return `server ${address}`;
    },
    'server lines',
  );
}

/**
 * The container's absolute paths moved under `prefix` (pid file, temp folders, access log),
 * nginx's port set to `listen`, the static root moved into the assembled tree, and upstream.conf
 * made Debian-nginx-ready with `addresses`.
 */
export function adaptForDebianNginx(
  containerRoot: string,
  prefix: string,
  listen: string,
  addresses: Readonly<Record<string, string>>,
): void {
  const envDir = join(containerRoot, 'etc/nginx/env');
  const edit = (name: string, change: (text: string) => string) => {
    const file = join(envDir, name);
    writeFileSync(file, change(readFileSync(file, 'utf8')));
  };
  edit('main.conf', (text) => replaceAll(text, /^pid \S+;/gm, () => `pid ${join(prefix, 'nginx.pid')};`, 'the pid file'));
  edit('http.conf', (text) => {
    mkdirSync(join(prefix, 'temp'), { recursive: true });
    const moved = replaceAll(text, /\/var\/cache\/nginx\//g, () => `${join(prefix, 'temp')}/`, 'the image temp folders');
    return replaceAll(moved, /^access_log \/dev\/stdout /gm, () => `access_log ${join(prefix, 'access.log')} `, 'the access log');
  });
  edit('server.conf', (text) => {
    const listening = replaceAll(text, /^listen 8080 /gm, () => `listen ${listen} `, 'listen 8080');
    return replaceAll(listening, /^root (\/\S+);/gm, (_match, path) => `root ${join(containerRoot, path)};`, 'the static root');
  });
  edit('upstream.conf', (text) => upstreamForDebianNginx(text, addresses));
}
