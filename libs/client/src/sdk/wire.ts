/**
 * The wire types the SDK speaks. Server events come from the protocol library (type-only, plus the
 * durable-event table, which has no dependency); client messages are restated here as plain types so
 * the SDK carries no validation library.
 */
export type * from '../../../protocol/src/events';
export type * from '../../../protocol/src/session';
export type { ErrorCode } from '../../../protocol/src/errors';
export { DURABLE_EVENT_TYPES } from '../../../protocol/src/events';
import type { ServerEvent, SessionEvent } from '../../../protocol/src/events';

export type Answers = Record<string, string | string[]> | string;
export type MemberRole = 'owner' | 'admin' | 'billing_admin' | 'member' | 'viewer';

/** Every client → server message (protocol.md §5), without `requestId` (the SDK adds it). */
export type ClientMessage =
  | { type: 'authenticate'; token: string }
  | { type: 'ping'; clientTs?: number }
  | { type: 'list_sessions'; includeArchived?: boolean }
  | { type: 'create_session'; agentType: string; name?: string }
  | { type: 'rename_session'; sessionId: string; name: string }
  | { type: 'archive_session' | 'unarchive_session' | 'delete_session'; sessionId: string }
  | { type: 'join_session'; sessionId: string; afterSeq?: number }
  | { type: 'leave_session'; sessionId: string }
  | { type: 'run_turn'; sessionId: string; text: string; clientTurnId?: string }
  | { type: 'stop_turn'; sessionId: string; turnId?: string }
  | { type: 'steer'; sessionId: string; text: string; turnId?: string }
  | {
      type: 'answer_question';
      sessionId: string;
      /** The id of the pending question or permission; it is also the correlation id. */
      requestId: string;
      answers?: Answers;
      approved?: boolean;
      dismissed?: boolean;
    }
  | { type: 'get_history'; sessionId: string; limit?: number; before?: string | number }
  | { type: 'get_events'; sessionId: string; afterSeq?: number; limit?: number }
  | { type: 'list_files'; sessionId: string; path?: string; depth?: number }
  | { type: 'read_file'; sessionId: string; path: string }
  | { type: 'file_history'; sessionId: string; path: string }
  | { type: 'file_at_iteration'; sessionId: string; path: string; iteration: number }
  | {
      type: 'manage_members';
      action: 'list' | 'add' | 'update_role' | 'remove';
      userId?: string;
      role?: MemberRole;
      email?: string;
    };

/** A frame as received: any server event, possibly echoing the `requestId` of the message it answers. */
export type Frame = ServerEvent & { requestId?: string };
/** Protocol v2: the frames of one server turn in one WebSocket frame, in order (unpacked by the client). */
export interface BatchFrame {
  type: 'batch';
  events: Frame[];
}
/** A session event as the application sees it (without the transport's `requestId`). */
export type DeliveredEvent = SessionEvent;
