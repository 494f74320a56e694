import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { GATEWAY_ENTRY, tempDataDir } from './support/gateway-process';
import { findNginx } from './support/nginx';

const ROOT = resolve(__dirname, '..');
const K8S = join(ROOT, 'deploy/k8s');

type Obj = Record<string, any>;
interface Doc {
  file: string;
  obj: Obj;
}

/** The kubernetes-models class of each apiVersion/kind the manifests may use. */
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function loadManifests(): Doc[] {
  const docs: Doc[] = [];
  for (const name of readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f))) {
    const file = join(K8S, name);
    for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${name}: ${d.errors.map((e) => e.message).join('; ')}`);
      const obj = d.toJS();
      if (obj) docs.push({ file: relative(ROOT, file), obj });
    }
  }
  return docs;
}

const workloads = (docs: Doc[]) =>
  docs.filter((d) => d.obj.kind === 'Deployment' || d.obj.kind === 'StatefulSet');
const envOf = (container: Obj, name: string) =>
  (container.env ?? []).find((e: Obj) => e.name === name) as Obj | undefined;
const gatewayContainer = (d: Doc) =>
  (d.obj.spec.template.spec.containers as Obj[]).find((c) => c.name === 'gateway');

describe('deploy manifests (Kubernetes schemas, restricted pod security, safe defaults)', () => {
  const docs = loadManifests();
  const byName = (kind: string, name: string) =>
    docs.find((d) => d.obj.kind === kind && d.obj.metadata?.name === name);

  it('parses every document under deploy/k8s and each validates against its Kubernetes schema', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const { file, obj } of docs) {
      const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect([file, obj.kind, model ? 'known' : 'no model']).toEqual([file, obj.kind, 'known']);
      expect(() => new model(obj).validate()).not.toThrow();
    }
  });

  it('runs every pod under the "restricted" Pod Security profile, with no service-account token', () => {
    expect(workloads(docs).length).toBeGreaterThanOrEqual(5);
    for (const { file, obj } of workloads(docs)) {
      const where = `${file} ${obj.kind}/${obj.metadata.name}`;
      const pod = obj.spec.template.spec as Obj;
      expect([where, pod.automountServiceAccountToken]).toEqual([where, false]);
      expect([where, pod.securityContext?.runAsNonRoot]).toEqual([where, true]);
      expect([where, pod.securityContext?.seccompProfile?.type]).toEqual([where, 'RuntimeDefault']);
      if (pod.securityContext?.fsGroup !== undefined) {
        expect([where, pod.securityContext.fsGroupChangePolicy]).toEqual([where, 'OnRootMismatch']);
      }
      expect(pod.hostNetwork ?? false).toBe(false);
      expect(pod.hostPID ?? false).toBe(false);
      expect((pod.volumes ?? []).filter((v: Obj) => v.hostPath)).toEqual([]);
      const tmpVolumes = new Set((pod.volumes ?? []).filter((v: Obj) => v.emptyDir).map((v: Obj) => v.name));
      for (const c of [...(pod.initContainers ?? []), ...pod.containers] as Obj[]) {
        const sc = c.securityContext ?? {};
        const at = `${where} container ${c.name}`;
        expect([at, sc.allowPrivilegeEscalation]).toEqual([at, false]);
        expect([at, sc.privileged ?? false]).toEqual([at, false]);
        expect([at, sc.readOnlyRootFilesystem]).toEqual([at, true]);
        expect([at, sc.runAsNonRoot ?? pod.securityContext.runAsNonRoot]).toEqual([at, true]);
        expect([at, sc.capabilities?.drop]).toEqual([at, ['ALL']]);
        expect([at, sc.capabilities?.add ?? []]).toEqual([at, []]);
        expect([at, (sc.seccompProfile ?? pod.securityContext.seccompProfile)?.type]).toEqual([
          at,
          'RuntimeDefault',
        ]);
        const tmp = (c.volumeMounts ?? []).find((m: Obj) => m.mountPath === '/tmp');
        expect([at, tmp && tmpVolumes.has(tmp.name)]).toEqual([at, true]);
        // An immutable tag on every image, never :latest or none.
        expect([at, /:(?!latest$)[^/:]+$|@sha256:/.test(c.image)]).toEqual([at, true]);
      }
    }
  });

  it('ships no Secret values: every Secret is created by the operator, so a re-apply overwrites nothing', () => {
    expect(docs.filter((d) => d.obj.kind === 'Secret').map((d) => d.file)).toEqual([]);
    const gatewayManifests = docs.filter((d) => /gateway(-shared)?\.yaml$/.test(d.file));
    expect(
      gatewayManifests.filter(
        (d) => d.obj.kind === 'ConfigMap' && d.obj.metadata.name === 'diminuendo-config',
      ),
    ).toEqual([]);
  });

  it('keeps one Secret per concern, and the credit store unchanged until switched explicitly', () => {
    for (const d of workloads(docs).filter((w) => gatewayContainer(w))) {
      const c = gatewayContainer(d)!;
      expect([d.file, envOf(c, 'BILLING_DATABASE_URL')]).toEqual([d.file, undefined]);
      const redis = envOf(c, 'REDIS_URL');
      expect([d.file, redis?.valueFrom?.secretKeyRef?.name]).toEqual([d.file, 'diminuendo-redis']);
    }
    // The Redis manifest knows nothing of PostgreSQL, and the reverse.
    const redisFile = readFileSync(join(K8S, 'redis.yaml'), 'utf8');
    const postgresFile = readFileSync(join(K8S, 'postgres.yaml'), 'utf8').replace(/^#.*$/gm, '');
    expect(redisFile.replace(/^#.*$/gm, '')).not.toMatch(/postgres|BILLING_DATABASE_URL/i);
    expect(postgresFile).not.toMatch(/redis/i);
  });

  it('Model 2 never overlaps two releases on the bus: Recreate, pinned image, CLUSTER_SECRET, TRUST_PROXY=1', () => {
    const shared = byName('Deployment', 'diminuendo-shared')!;
    expect(shared.obj.spec.strategy).toEqual({ type: 'Recreate' });
    const c = gatewayContainer(shared)!;
    expect(envOf(c, 'TENANT_OWNERSHIP')?.value).toBe('lease');
    expect(envOf(c, 'CLUSTER_SECRET')?.valueFrom?.secretKeyRef).toMatchObject({
      name: 'diminuendo-cluster',
      key: 'CLUSTER_SECRET',
    });
    expect(envOf(c, 'CLUSTER_SECRET')?.valueFrom?.secretKeyRef.optional).toBeUndefined();
    expect(envOf(c, 'TRUST_PROXY')?.value).toBe('1');
    // A rolling Redis would briefly run two lease authorities.
    expect(byName('Deployment', 'diminuendo-redis')!.obj.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('Model 1 routes each tenant to one shard: no load-balanced Service over shards, a router, a shard map', () => {
    const shards = byName('StatefulSet', 'diminuendo')!;
    const c = gatewayContainer(shards)!;
    expect(envOf(c, 'TENANT_OWNERSHIP')?.value).toBe('local');
    expect(envOf(c, 'TRUST_PROXY')?.value).toBe('2');
    expect(c.args.join('\n')).toMatch(/SHARD_TENANTS=/);
    expect(c.args.join('\n')).toContain(GATEWAY_ENTRY.slice(GATEWAY_ENTRY.indexOf('dist/')));
    const overShards = docs.filter(
      (d) => d.obj.kind === 'Service' && d.obj.spec.selector?.app === 'diminuendo',
    );
    expect(overShards.map((d) => [d.obj.metadata.name, d.obj.spec.clusterIP])).toEqual([
      ['diminuendo-shards', 'None'],
    ]);
    expect(shards.obj.spec.serviceName).toBe('diminuendo-shards');
    const ingress = byName('Ingress', 'diminuendo')!;
    const backends = ingress.obj.spec.rules[0].http.paths.map((p: Obj) => p.backend.service.name);
    expect(new Set(backends)).toEqual(new Set(['diminuendo-router']));
  });

  it('has a PodDisruptionBudget for every workload and Ingresses with WebSocket timeouts exposing only live', () => {
    const pdbs = docs.filter((d) => d.obj.kind === 'PodDisruptionBudget');
    for (const name of ['diminuendo', 'diminuendo-shared', 'diminuendo-router']) {
      const w = workloads(docs).find((d) => d.obj.metadata.name === name)!;
      const labels = w.obj.spec.template.metadata.labels;
      expect([name, pdbs.some((p) => p.obj.spec.selector.matchLabels.app === labels.app)]).toEqual([
        name,
        true,
      ]);
    }
    const ingresses = docs.filter((d) => d.obj.kind === 'Ingress');
    expect(ingresses.length).toBe(2);
    for (const { obj } of ingresses) {
      const a = obj.metadata.annotations;
      expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
      expect(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
      const paths = obj.spec.rules.flatMap((r: Obj) => r.http.paths.map((p: Obj) => p.path)).sort();
      expect(paths).toEqual(['/api/', '/health/live', '/ws']);
      expect(obj.spec.tls.length).toBeGreaterThan(0);
    }
  });

  it('the router configuration passes nginx -t', () => {
    const nginx = findNginx();
    expect(nginx).toBeDefined(); // `npm test` (scripts/test-prep.sh) installs Debian's nginx when missing
    const conf = byName('ConfigMap', 'diminuendo-router')!.obj.data['nginx.conf'] as string;
    expect(conf).toMatch(/map \$tenant_hint \$shard/);
    expect(conf).not.toMatch(/X-Forwarded-For \$remote_addr/); // appends: TRUST_PROXY=2 on the shards
    const dir = tempDataDir('dim-router-');
    mkdirSync(join(dir, 'logs'));
    // Cluster DNS names do not resolve here; the syntax and every directive are still checked.
    const local = conf
      .replace(/kube-dns\.kube-system\.svc\.cluster\.local/g, '127.0.0.1')
      .replace(/\/tmp\//g, `${dir}/`)
      .replace('error_log /dev/stderr warn;', `error_log ${dir}/logs/error.log warn;`)
      .replace('listen 8080;', 'listen 127.0.0.1:1;');
    writeFileSync(join(dir, 'nginx.conf'), local);
    const r = spawnSync(nginx!, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, expect.stringMatching(/test is successful/)]);
  });
});

describe('Dockerfile and compose files match what the tests run', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it('the image runs the entry point the e2e suites start, as a numeric non-root user', () => {
    const entry = relative(ROOT, GATEWAY_ENTRY);
    expect(dockerfile).toContain(`CMD ["node", "${entry}"]`);
    expect(dockerfile).toMatch(/^USER \d+:\d+$/m);
    expect(dockerfile).toMatch(/NODE_ENV=production/);
    // Secrets next to the compose files never enter the build context.
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/.env', 'node_modules', 'dist', 'data']));
  });

  it('the compose cluster protects Redis with a password and sets CLUSTER_SECRET', () => {
    const cluster = parse(readFileSync(join(ROOT, 'deploy/docker-compose.cluster.yml'), 'utf8'), {
      merge: true,
    });
    const redis = cluster.services.redis;
    expect(redis.command.join(' ')).toMatch(/--requirepass/);
    for (const name of ['gateway-a', 'gateway-b']) {
      const env = cluster.services[name].environment;
      expect(env.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD/);
      expect(env.CLUSTER_SECRET).toMatch(/^\$\{CLUSTER_SECRET:\?/);
      expect(env.NODE_ENV).toBe('production');
    }
  });
});
