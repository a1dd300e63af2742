/**
 * Docker Swarm for the swarm e2e suite (`swarm*.e2e.ts`): a single-node swarm the suite makes
 * and leaves, one stack deployed from docker-stack.yml under a name of its own, its tasks and
 * their containers, and a k6 run against its published port. Commands and waits are
 * docker.ts's, shared with the compose suite.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePrometheusText } from '../../k6/lib/prometheus.ts';
import { docker, ROOT, runCommand, tail, waitFor } from './docker.ts';

/** Marks a node whose swarm this suite made, so a run after an interrupted one still leaves it. */
const MADE_BY_SUITE_LABEL = 'linkyard.e2e.made-swarm';
/** docker-stack.yml runs PostgreSQL on the node with this label (where its volume is). */
const POSTGRES_NODE_LABEL = 'linkyard.postgres';

export interface SwarmMembership {
  nodeId: string;
  /** This suite ran `docker swarm init`, so it runs `docker swarm leave --force` at the end. */
  made: boolean;
}

/**
 * Makes this engine a single-node swarm, unless it is one already. A swarm someone else made is
 * used as it is and left alone at the end; the postgres label this suite adds is removed then.
 */
export async function joinSwarm(): Promise<SwarmMembership> {
  const state = (await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'], { timeoutMs: 15_000 })).trim();
  let made = false;
  if (state === 'inactive') {
    await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1'], { timeoutMs: 60_000 });
    made = true;
  } else if (state !== 'active') {
    throw new Error(`this engine's swarm state is '${state}': not one the suite can use`);
  }
  const nodeId = (await docker(['info', '--format', '{{.Swarm.NodeID}}'], { timeoutMs: 15_000 })).trim();
  if (made) {
    await docker(['node', 'update', '--label-add', `${MADE_BY_SUITE_LABEL}=true`, nodeId], { timeoutMs: 30_000 });
  } else {
    const labels = JSON.parse(
      await docker(['node', 'inspect', nodeId, '--format', '{{json .Spec.Labels}}'], { timeoutMs: 15_000 }),
    ) as Record<string, string> | null;
    made = labels?.[MADE_BY_SUITE_LABEL] === 'true';
  }
  await docker(['node', 'update', '--label-add', `${POSTGRES_NODE_LABEL}=true`, nodeId], { timeoutMs: 30_000 });
  return { nodeId, made };
}

/**
 * Leaves the swarm if this suite made it; else takes back the label it added. Never throws;
 * returns what it did, for the report.
 *
 * Not while standalone containers run on the engine (say, a compose stack on a machine shared with
 * other work): `docker swarm leave` breaks Docker's DNS for running containers on bridge networks
 * (moby/moby#45144), and their apps would lose PostgreSQL by name. The swarm is then kept (compose
 * works on a swarm manager), still marked as this suite's, and the next run leaves it.
 */
export function leaveSwarm(membership: SwarmMembership): string {
  if (!membership.made) {
    spawnSync('docker', ['node', 'update', '--label-rm', POSTGRES_NODE_LABEL, membership.nodeId], { stdio: 'ignore', timeout: 60_000 });
    return 'the swarm was there before this suite: kept';
  }
  const standalone = spawnSync('docker', ['ps', '--quiet', '--filter', 'is-task=false'], { encoding: 'utf8', timeout: 30_000 });
  const others =
    standalone.status === 0
      ? standalone.stdout
          .trim()
          .split('\n')
          .filter((id) => id !== '')
      : [];
  if (others.length > 0) {
    return `NOTICE: swarm kept: ${others.length} standalone container(s) running, whose DNS \`docker swarm leave\` would break (moby/moby#45144); the next run of this suite leaves it`;
  }
  const left = spawnSync('docker', ['swarm', 'leave', '--force'], { encoding: 'utf8', timeout: 60_000 });
  return left.status === 0 ? 'left the swarm this suite made' : `docker swarm leave failed: ${left.stderr}`;
}

export interface Task {
  id: string;
  name: string;
  image: string;
  currentState: string;
}

export interface TaskContainer {
  id: string;
  /** The swarm task it runs. */
  taskId: string;
  image: string;
  health: string;
}

/** One stack deployed from docker-stack.yml under `name`, with the variables in `env`. */
export class SwarmStack {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;

  constructor(options: { name: string; env: Readonly<Record<string, string>> }) {
    this.name = options.name;
    this.env = options.env;
  }

  service(service: string): string {
    return `${this.name}_${service}`;
  }

  /**
   * Creates or updates the stack from docker-stack.yml and `overlays` on top of it (docker-stack.tls.yml,
   * say), merged in that order; returns at once (the waits below tell when it has converged).
   */
  async deploy(overlays: readonly string[] = []): Promise<void> {
    const files = ['docker-stack.yml', ...overlays].flatMap((file) => ['--compose-file', file]);
    // --resolve-image never: the images are local tags; asking a registry for their digest would
    // only wait for a timeout on machines that reach none.
    await docker(['stack', 'deploy', '--detach=true', '--resolve-image', 'never', ...files, this.name], {
      env: this.env,
      timeoutMs: 120_000,
    });
  }

  /**
   * A Swarm secret from a file, named `<stack>_<name>` and labelled as the stack's, so that
   * `docker stack rm` removes it with the ones the stack files made; returns its name.
   */
  async createSecret(name: string, file: string): Promise<string> {
    const secret = this.service(name);
    await docker(['secret', 'create', '--label', `com.docker.stack.namespace=${this.name}`, secret, file], { timeoutMs: 30_000 });
    return secret;
  }

  /** The tasks Swarm means to keep running, whatever state they are in now. */
  async tasks(service: string): Promise<Task[]> {
    const out = await docker(
      ['service', 'ps', this.service(service), '--no-trunc', '--filter', 'desired-state=running', '--format', '{{json .}}'],
      { timeoutMs: 30_000 },
    );
    return out
      .trim()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const task = JSON.parse(line) as { ID: string; Name: string; Image: string; CurrentState: string };
        return { id: task.ID, name: task.Name, image: task.Image, currentState: task.CurrentState };
      });
  }

  /** The service's running containers on this node, with their task and health. */
  async containers(service: string): Promise<TaskContainer[]> {
    const ids = (
      await docker(['ps', '--quiet', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${this.service(service)}`], {
        timeoutMs: 30_000,
      })
    )
      .trim()
      .split('\n')
      .filter((id) => id !== '');
    if (ids.length === 0) return [];
    const inspected = JSON.parse(await docker(['container', 'inspect', ...ids], { timeoutMs: 30_000 })) as Array<{
      Id: string;
      Config: { Image: string; Labels: Record<string, string> };
      State: { Status: string; Health?: { Status: string } };
    }>;
    return inspected
      .filter((container) => container.State.Status === 'running')
      .map((container) => ({
        id: container.Id,
        taskId: container.Config.Labels['com.docker.swarm.task.id'] ?? '',
        image: container.Config.Image,
        health: container.State.Health?.Status ?? 'none',
      }));
  }

  /**
   * Waits until the service runs exactly `replicas` healthy containers of `image` (when given)
   * and nothing else, and `tasks.<service>` in nginx's DNS answers exactly their addresses
   * (what nginx balances over); returns the containers.
   */
  async waitConverged(service: string, replicas: number, timeoutMs: number, image?: string): Promise<TaskContainer[]> {
    return waitFor(
      `${this.service(service)}: ${replicas} healthy tasks${image === undefined ? '' : ` of ${image}`}, all in tasks.${service}`,
      timeoutMs,
      async () => {
        const containers = await this.containers(service);
        if (containers.length !== replicas) throw new Error(`${containers.length} running containers\n${await this.taskHistory(service)}`);
        const unready = containers.filter(
          (container) => container.health !== 'healthy' || (image !== undefined && container.image !== image),
        );
        if (unready.length > 0)
          throw new Error(
            `not yet: ${unready.map((container) => `${container.image} ${container.health}`).join(', ')}\n${await this.taskHistory(service)}`,
          );
        const resolved = await this.resolveInNginx(`tasks.${service}`);
        if (resolved.length !== replicas) throw new Error(`tasks.${service} answers ${resolved.length} addresses`);
        return containers;
      },
      1000,
    );
  }

  /** The addresses a name has in nginx's container, from Docker's DNS. */
  async resolveInNginx(name: string): Promise<string[]> {
    const [nginx] = await this.containers('nginx');
    if (nginx === undefined) throw new Error('no nginx container');
    const result = await runCommand('docker', ['exec', nginx.id, 'getent', 'ahostsv4', name], { timeoutMs: 15_000 });
    return [
      ...new Set(
        result.stdout
          .trim()
          .split('\n')
          .map((line) => line.split(/\s+/)[0] ?? '')
          .filter((address) => address !== ''),
      ),
    ];
  }

  /**
   * Requests a container's app answered besides health checks and scrapes, from its own /metrics
   * (read inside the container: the tasks publish no port).
   */
  async servedRequests(containerId: string): Promise<number> {
    const text = await docker(
      [
        'exec',
        containerId,
        'node',
        '-e',
        "fetch('http://127.0.0.1:8000/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
      ],
      { timeoutMs: 30_000 },
    );
    const notTraffic = new Set(['/readyz', '/healthz', '/metrics']);
    return parsePrometheusText(text)
      .filter((sample) => sample.name === 'http_requests_total' && !notTraffic.has(sample.labels.route ?? ''))
      .reduce((sum, sample) => sum + sample.value, 0);
  }

  /** One SQL query's single value, through psql in the postgres task. */
  async sql(query: string): Promise<string> {
    const [postgres] = await this.containers('postgres');
    if (postgres === undefined) throw new Error('no postgres container');
    return (await docker(['exec', postgres.id, 'psql', '-U', 'linkyard', '-d', 'linkyard', '-tAc', query], { timeoutMs: 30_000 })).trim();
  }

  /**
   * Polls a service's update until it reaches one of `states` (completed, rollback_completed, …);
   * returns that state and every state and message seen on the way, for the test's report.
   */
  async waitUpdate(service: string, states: readonly string[], timeoutMs: number): Promise<{ state: string; seen: string[] }> {
    const seen: string[] = [];
    const began = Date.now();
    const state = await waitFor(
      `${this.service(service)} update to reach ${states.join(' or ')}`,
      timeoutMs,
      async () => {
        const [state = '', message = ''] = (
          await docker(
            [
              'service',
              'inspect',
              this.service(service),
              '--format',
              '{{if .UpdateStatus}}{{.UpdateStatus.State}}\t{{.UpdateStatus.Message}}{{end}}',
            ],
            { timeoutMs: 15_000 },
          )
        )
          .trim()
          .split('\t');
        const line = `${state}: ${message}`;
        if (!seen.some((entry) => entry.endsWith(line))) seen.push(`${((Date.now() - began) / 1000).toFixed(0)} s ${line}`);
        if (states.includes(state)) return state;
        throw new Error(`${seen.join('; ')}\n${await this.taskHistory(service)}`);
      },
      1000,
    );
    return { state, seen };
  }

  /** `docker service ps` with the tasks' images, states and errors: what Swarm did, for messages. */
  async taskHistory(service: string): Promise<string> {
    const result = await runCommand(
      'docker',
      [
        'service',
        'ps',
        this.service(service),
        '--no-trunc',
        '--format',
        '{{.Name}} {{.Image}} desired={{.DesiredState}} {{.CurrentState}} {{.Error}}',
      ],
      { timeoutMs: 15_000 },
    );
    return result.stdout.trim();
  }

  /**
   * nginx's access-log lines (JSON, proxy/snippets/logging.conf) since `sinceMs` whose status is
   * not 2xx or 3xx, with the upstream tries: which task failed a request, and how.
   */
  async failedInNginxLog(sinceMs: number): Promise<string[]> {
    const since = new Date(sinceMs).toISOString();
    const result = await runCommand('docker', ['service', 'logs', '--raw', '--since', since, this.service('nginx')], { timeoutMs: 60_000 });
    return result.stdout.split('\n').filter((line) => {
      const status = /"status":(\d{3})/.exec(line)?.[1];
      return status !== undefined && !/^[23]/.test(status);
    });
  }

  /**
   * The app's and PostgreSQL's log lines since `sinceMs` other than pino's info lines (the apps'
   * errors, warnings and start-up failures; everything PostgreSQL said), for a failure's diagnostics.
   */
  async problemLogs(sinceMs: number, lines = 40): Promise<string> {
    const out: string[] = [];
    for (const service of ['app', 'postgres']) {
      const result = await runCommand(
        'docker',
        ['service', 'logs', '--no-task-ids', '--since', new Date(sinceMs).toISOString(), this.service(service)],
        { timeoutMs: 60_000 },
      );
      const problems = (result.stdout + result.stderr).split('\n').filter((line) => !line.includes('"level":30'));
      out.push(`--- ${service}\n${tail(problems.join('\n'), lines)}`);
    }
    return out.join('\n');
  }

  /**
   * Removes the stack, then (once its containers are gone) its volumes: `docker stack rm` keeps
   * volumes and returns before the containers have stopped. Never throws; synchronous, so it can
   * run from an exit handler.
   */
  removeNow(): void {
    spawnSync('docker', ['stack', 'rm', this.name], { stdio: 'ignore', timeout: 60_000 });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const left = spawnSync('docker', ['ps', '--all', '--quiet', '--filter', `label=com.docker.stack.namespace=${this.name}`], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      if (left.status === 0 && left.stdout.trim() === '') break;
      spawnSync('sleep', ['1']);
    }
    // Every volume the stack files name (postgres-data; acme-webroot with docker-stack.tls.yml).
    const volumes = spawnSync('docker', ['volume', 'ls', '--quiet', '--filter', `label=com.docker.stack.namespace=${this.name}`], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    const names = new Set([`${this.name}_postgres-data`, ...(volumes.status === 0 ? volumes.stdout.trim().split('\n') : [])]);
    spawnSync('docker', ['volume', 'rm', ...[...names].filter((name) => name !== '')], { stdio: 'ignore', timeout: 30_000 });
  }
}

/** k6: K6_BIN, else the binary next to the project (../shared/tools/k6/k6), else on the PATH. */
export function k6Binary(): string {
  const beside = join(ROOT, '..', 'shared', 'tools', 'k6', 'k6');
  return process.env.K6_BIN ?? (existsSync(beside) ? beside : 'k6');
}

/** What k6/reads-and-writes.ts writes as its answer (reads-and-writes.json's `result`). */
export interface ReadsAndWritesResult {
  requests: number;
  failed: number;
  created: number;
  droppedIterations: number;
  readP99Ms: number;
  writeP99Ms: number;
  prefix: string;
}

export interface K6Run {
  /** Settles once k6 has exited, with its answer and exit code. */
  done: Promise<{ result: ReadsAndWritesResult; code: number | null; output: string }>;
  process: ChildProcess;
}

/** Starts k6/reads-and-writes.ts (bounded by its DURATION) against `baseUrl`. */
export function startReadsAndWrites(options: { baseUrl: string; resultsDir: string; env: Readonly<Record<string, string>> }): K6Run {
  const args = ['run', '--no-usage-report', '--quiet', '--no-color', join(ROOT, 'k6', 'reads-and-writes.ts')];
  const child = spawn(k6Binary(), args, {
    cwd: ROOT,
    env: {
      ...process.env,
      BASE_URL: options.baseUrl,
      RESULTS_DIR: options.resultsDir,
      // The bookmarks setup() creates when there are none point at the service's own /healthz.
      SEED_URI: `${options.baseUrl}/healthz`,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const done = new Promise<{ result: ReadsAndWritesResult; code: number | null; output: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        const summary = JSON.parse(readFileSync(join(options.resultsDir, 'reads-and-writes.json'), 'utf8')) as {
          result: ReadsAndWritesResult;
        };
        resolve({ result: summary.result, code, output });
      } catch (error) {
        reject(new Error(`k6 exited with ${code} and left no summary (${(error as Error).message}):\n${tail(output, 30)}`));
      }
    });
  });
  return { done, process: child };
}
