/**
 * One class-validator DTO per client message (protocol.md §10). Unknown fields are ignored; a message
 * whose known fields fail validation is answered with INVALID_MESSAGE.
 */
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  type ValidationOptions,
} from 'class-validator';
import { ROLES, type Permission, type Role } from './roles';

export const MAX_ID_LENGTH = 128;
export const MAX_NAME_LENGTH = 200;
export const MAX_TEXT_BYTES = 512 * 1024;
export const MAX_PATH_LENGTH = 4096;
/** Bounds of `answer_question.answers` (questions answered in one message, choices per answer, chars per answer). */
export const MAX_ANSWER_KEYS = 64;
export const MAX_ANSWER_CHOICES = 64;
export const MAX_ANSWER_CHARS = 16 * 1024;

const isAnswerText = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_ANSWER_CHARS;

/**
 * `Record<questionId, string | string[]>` or one free-text string, with every dimension bounded.
 * Checked one level deep only: a nested object is rejected where it stands, so a hostile structure
 * (deep or wide) costs no more than reading its first level.
 */
export function isAnswers(value: unknown): value is Record<string, string | string[]> | string {
  if (typeof value === 'string') return value.length <= MAX_TEXT_BYTES;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  if (keys.length > MAX_ANSWER_KEYS) return false;
  for (const key of keys) {
    if (key.length === 0 || key.length > MAX_ID_LENGTH) return false;
    const answer = (value as Record<string, unknown>)[key];
    if (isAnswerText(answer)) continue;
    if (!Array.isArray(answer) || answer.length > MAX_ANSWER_CHOICES || !answer.every(isAnswerText))
      return false;
  }
  return true;
}

function IsAnswers(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAnswers',
      validator: {
        validate: (value) => isAnswers(value),
        defaultMessage: () =>
          `answers must be a string or an object of question id → string | string[] ` +
          `(at most ${MAX_ANSWER_KEYS} answers, ${MAX_ANSWER_CHOICES} choices, ${MAX_ANSWER_CHARS} characters each)`,
      },
    },
    options,
  );
}

export abstract class ClientMessageBase {
  abstract readonly type: string;

  /**
   * Correlation id, echoed on the direct response and on any error. Optional, except on
   * answer_question, where it is the id of the pending question or permission being answered.
   */
  @ValidateIf(
    (o: ClientMessageBase) =>
      o.type === 'answer_question' || (o.requestId !== undefined && o.requestId !== null),
  )
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_ID_LENGTH)
  requestId?: string;
}

abstract class SessionScoped extends ClientMessageBase {
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_ID_LENGTH)
  sessionId!: string;
}

export class AuthenticateMessage extends ClientMessageBase {
  readonly type = 'authenticate' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(16 * 1024)
  token!: string;
}

export class PingMessage extends ClientMessageBase {
  readonly type = 'ping' as const;
  @IsOptional()
  @IsInt()
  clientTs?: number;
}

export class ListSessionsMessage extends ClientMessageBase {
  readonly type = 'list_sessions' as const;
  @IsOptional()
  @IsBoolean()
  includeArchived?: boolean;
}

export class CreateSessionMessage extends ClientMessageBase {
  readonly type = 'create_session' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_ID_LENGTH)
  agentType!: string;
  @IsOptional()
  @IsString()
  @MaxLength(MAX_NAME_LENGTH)
  name?: string;
}

export class RenameSessionMessage extends SessionScoped {
  readonly type = 'rename_session' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_NAME_LENGTH)
  name!: string;
}

export class ArchiveSessionMessage extends SessionScoped {
  readonly type = 'archive_session' as const;
}

export class UnarchiveSessionMessage extends SessionScoped {
  readonly type = 'unarchive_session' as const;
}

export class DeleteSessionMessage extends SessionScoped {
  readonly type = 'delete_session' as const;
}

export class JoinSessionMessage extends SessionScoped {
  readonly type = 'join_session' as const;
  @IsOptional()
  @IsInt()
  @Min(0)
  afterSeq?: number;
}

export class LeaveSessionMessage extends SessionScoped {
  readonly type = 'leave_session' as const;
}

export class RunTurnMessage extends SessionScoped {
  readonly type = 'run_turn' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TEXT_BYTES)
  text!: string;
  @IsOptional()
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  clientTurnId?: string;
}

export class StopTurnMessage extends SessionScoped {
  readonly type = 'stop_turn' as const;
  @IsOptional()
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  turnId?: string;
}

export class SteerMessage extends SessionScoped {
  readonly type = 'steer' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_TEXT_BYTES)
  text!: string;
  @IsOptional()
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  turnId?: string;
}

export class AnswerQuestionMessage extends SessionScoped {
  readonly type = 'answer_question' as const;
  // `requestId` (required here, see ClientMessageBase) names the pending question or permission.
  /** questionId → answer, or a single free-text answer. */
  @IsOptional()
  @IsAnswers()
  answers?: Record<string, string | string[]> | string;
  @IsOptional()
  @IsBoolean()
  approved?: boolean;
  @IsOptional()
  @IsBoolean()
  dismissed?: boolean;
}

export class GetHistoryMessage extends SessionScoped {
  readonly type = 'get_history' as const;
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
  /** Cursor: a message id or a `createdAt` timestamp; returns messages older than it. */
  @IsOptional()
  @ValidateIf((_o, v) => typeof v !== 'number')
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  before?: string | number;
}

export class GetEventsMessage extends SessionScoped {
  readonly type = 'get_events' as const;
  @IsOptional()
  @IsInt()
  @Min(0)
  afterSeq?: number;
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class ListFilesMessage extends SessionScoped {
  readonly type = 'list_files' as const;
  @IsOptional()
  @IsString()
  @MaxLength(MAX_PATH_LENGTH)
  path?: string;
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  depth?: number;
}

export class ReadFileMessage extends SessionScoped {
  readonly type = 'read_file' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_PATH_LENGTH)
  path!: string;
}

export class FileHistoryMessage extends SessionScoped {
  readonly type = 'file_history' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_PATH_LENGTH)
  path!: string;
}

export class FileAtIterationMessage extends SessionScoped {
  readonly type = 'file_at_iteration' as const;
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_PATH_LENGTH)
  path!: string;
  @IsInt()
  @Min(0)
  iteration!: number;
}

export const MEMBER_ACTIONS = ['list', 'add', 'update_role', 'remove'] as const;
export type MemberAction = (typeof MEMBER_ACTIONS)[number];

export class ManageMembersMessage extends ClientMessageBase {
  readonly type = 'manage_members' as const;
  @IsIn(MEMBER_ACTIONS)
  action!: MemberAction;
  @ValidateIf((o: ManageMembersMessage) => o.action !== 'list')
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  userId?: string;
  @ValidateIf((o: ManageMembersMessage) => o.action === 'update_role' || o.role !== undefined)
  @IsIn(ROLES)
  role?: Role;
  @IsOptional()
  @IsString()
  @MaxLength(320)
  email?: string;
}

/** type → DTO class: the schema union the transport validates against. */
export const CLIENT_MESSAGES = {
  authenticate: AuthenticateMessage,
  ping: PingMessage,
  list_sessions: ListSessionsMessage,
  create_session: CreateSessionMessage,
  rename_session: RenameSessionMessage,
  archive_session: ArchiveSessionMessage,
  unarchive_session: UnarchiveSessionMessage,
  delete_session: DeleteSessionMessage,
  join_session: JoinSessionMessage,
  leave_session: LeaveSessionMessage,
  run_turn: RunTurnMessage,
  stop_turn: StopTurnMessage,
  steer: SteerMessage,
  answer_question: AnswerQuestionMessage,
  get_history: GetHistoryMessage,
  get_events: GetEventsMessage,
  list_files: ListFilesMessage,
  read_file: ReadFileMessage,
  file_history: FileHistoryMessage,
  file_at_iteration: FileAtIterationMessage,
  manage_members: ManageMembersMessage,
} as const;

export type ClientMessageType = keyof typeof CLIENT_MESSAGES;
export type ClientMessage = InstanceType<(typeof CLIENT_MESSAGES)[ClientMessageType]>;
/** A client message as a plain object literal (what the typed client sends). */
export type ClientMessageInput = {
  [K in ClientMessageType]: Omit<InstanceType<(typeof CLIENT_MESSAGES)[K]>, 'type'> & { type: K };
}[ClientMessageType];

export function isClientMessageType(type: unknown): type is ClientMessageType {
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(CLIENT_MESSAGES, type);
}

/** Messages accepted before authentication (protocol.md §4.3). */
export const PRE_AUTH_MESSAGES: ReadonlySet<ClientMessageType> = new Set(['authenticate', 'ping']);

/** Permission each message needs (protocol.md §6.3); manage_members depends on its action. */
export const MESSAGE_PERMISSIONS: Readonly<
  Record<Exclude<ClientMessageType, 'manage_members'>, Permission | null>
> = {
  authenticate: null,
  ping: null,
  list_sessions: 'session:read',
  join_session: 'session:read',
  leave_session: 'session:read',
  get_history: 'session:read',
  get_events: 'session:read',
  list_files: 'session:read',
  read_file: 'session:read',
  file_history: 'session:read',
  file_at_iteration: 'session:read',
  create_session: 'session:create',
  rename_session: 'session:write',
  run_turn: 'session:write',
  stop_turn: 'session:write',
  answer_question: 'session:write',
  steer: 'session:steer',
  archive_session: 'session:archive',
  unarchive_session: 'session:archive',
  delete_session: 'session:delete',
};

export const MEMBER_ACTION_PERMISSIONS: Readonly<Record<MemberAction, Permission>> = {
  list: 'member:read',
  add: 'member:write',
  update_role: 'member:write',
  remove: 'member:delete',
};

/**
 * The permission a message needs. Fails closed: an unknown type or action needs `tenant:admin`
 * (the transport never lets one through; this guards against future mistakes).
 */
export function permissionFor(message: { type: string; action?: string }): Permission | null {
  const own = (table: object, key: unknown) =>
    typeof key === 'string' && Object.prototype.hasOwnProperty.call(table, key);
  if (message.type === 'manage_members') {
    return own(MEMBER_ACTION_PERMISSIONS, message.action)
      ? MEMBER_ACTION_PERMISSIONS[message.action as MemberAction]
      : 'tenant:admin';
  }
  if (!own(MESSAGE_PERMISSIONS, message.type)) return 'tenant:admin';
  return MESSAGE_PERMISSIONS[message.type as Exclude<ClientMessageType, 'manage_members'>];
}
