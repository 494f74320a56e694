import { useEffect, useState } from 'react';
import type { Diminuendo, Member } from '@diminuendo/client';
import { errorText } from './hooks';

interface Billing {
  balance: number;
  reserved: number;
  available: number;
  unit: string;
  billingEnabled: boolean;
}
interface Usage {
  totals: { inputTokens: number; outputTokens: number; cost: number };
}
interface ApiKey {
  id: string;
  label?: string;
  role: string;
  createdAt: number;
  revokedAt?: number;
}

const BILLING_ROLES = ['owner', 'admin', 'billing_admin'];
const MEMBER_ROLES = ['owner', 'admin'];

/** Credits, usage, members and API keys — each only for the roles that may see it. */
export function AccountPanel({ client }: { client: Diminuendo }) {
  const role = client.identity?.role ?? 'member';
  const [billing, setBilling] = useState<Billing | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [newKey, setNewKey] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const fail = (err: unknown) => setProblem(errorText(err));

  useEffect(() => {
    if (BILLING_ROLES.includes(role)) {
      client.api<Billing>('/api/v1/billing').then(setBilling, fail);
      client.api<Usage>('/api/v1/usage?limit=100').then(setUsage, fail);
    }
    if (MEMBER_ROLES.includes(role)) {
      client
        .request<{ type: 'member_list'; members: Member[] }>({ type: 'manage_members', action: 'list' })
        .then((m) => setMembers(m.members), fail);
    }
    if (role === 'owner')
      client.api<{ keys: ApiKey[] }>('/api/v1/api-keys').then((k) => setKeys(k.keys), fail);
  }, [client, role]);

  return (
    <section className="account" aria-label="Account">
      <h2>Account</h2>
      <p>
        Signed in as <strong>{client.identity?.email || client.identity?.userId}</strong> in tenant{' '}
        <code>{client.identity?.tenantId}</code> with role <strong>{role}</strong>.
      </p>
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      {billing && (
        <section aria-label="Credits">
          <h3>Credits</h3>
          <p data-testid="credits">
            {billing.billingEnabled
              ? `${billing.available} available (${billing.balance} balance, ${billing.reserved} reserved) ${billing.unit}`
              : 'Billing is off.'}
          </p>
        </section>
      )}
      {usage && (
        <section aria-label="Usage">
          <h3>Usage</h3>
          <p>
            {usage.totals.inputTokens} input and {usage.totals.outputTokens} output tokens,{' '}
            {usage.totals.cost} micro-credits.
          </p>
        </section>
      )}
      {members && (
        <section aria-label="Members">
          <h3>Members</h3>
          {members.length === 0 && <p>No member rows yet: roles come from the token.</p>}
          <table hidden={members.length === 0}>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.userId}>
                  <td>{m.email || m.userId}</td>
                  <td>{m.role}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {keys && (
        <section aria-label="API keys">
          <h3>API keys</h3>
          <ul>
            {keys.map((k) => (
              <li key={k.id}>
                <code>{k.id}</code> {k.label} — {k.role}
                {k.revokedAt ? ' (revoked)' : ''}
              </li>
            ))}
          </ul>
          <button
            type="button"
            onClick={() =>
              client
                .api<{ key: string }>('/api/v1/api-keys', {
                  method: 'POST',
                  body: { role: 'member', label: 'console' },
                })
                .then((k) => {
                  setNewKey(k.key);
                  return client.api<{ keys: ApiKey[] }>('/api/v1/api-keys');
                })
                .then((k) => setKeys(k.keys), fail)
            }
          >
            Create a member API key
          </button>
          {newKey && (
            <p role="status">
              New key (shown once): <code>{newKey}</code>
            </p>
          )}
        </section>
      )}
    </section>
  );
}
