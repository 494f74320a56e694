/** The seven client-visible session states (protocol.md §7.2). */
export const SESSION_STATES = [
  'inactive',
  'activating',
  'ready',
  'running',
  'waiting',
  'deactivating',
  'error',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** SessionMeta: the object in `session_list`, `session_created` and `state_snapshot.session`. */
export interface SessionMeta {
  id: string;
  tenantId: string;
  name: string;
  agentType: string;
  status: SessionState;
  archived: boolean;
  projectId: string | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  lastActivityAt: number | null;
}

export interface HistoryMessage {
  id: string;
  role: 'user' | 'assistant' | 'system';
  text: string;
  turnId?: string;
  userId?: string;
  createdAt: number;
}

export interface Member {
  userId: string;
  email?: string;
  role: string;
  createdAt: number;
  updatedAt: number;
}

export interface Identity {
  userId: string;
  email: string;
  tenantId: string;
  role?: string;
}
