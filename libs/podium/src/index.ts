export { podiumConfig, PodiumEnv, toPodiumConfig, type PodiumConfig } from './podium.config';
export { PodiumModule } from './podium.module';
export { PODIUM_OPTIONS } from './podium.module-definition';
export type { PodiumEventMap } from './podium.events';
export {
  PodiumClient,
  encodeFilePath,
  type CreateInstanceRequest,
  type CreatedInstance,
  type PodiumCallInfo,
  type PodiumFileContent,
  type PodiumProbeResult,
} from './podium.client';
export {
  PodiumConnection,
  type PodiumConnectionEvents,
  type PodiumConnectionState,
  type PodiumFrame,
  type PodiumLostReason,
} from './podium.connection';
export {
  PODIUM_CONTROL_TYPES,
  answerQuestionMessage,
  interruptMessage,
  permissionResponse,
  processMessage,
  steerMessage,
  type PodiumAnswers,
  type PodiumControlEnvelope,
  type PodiumControlType,
} from './podium.envelopes';
export { PodiumError, isPodiumError, type PodiumErrorKind } from './podium.errors';
export type { CircuitState } from './podium.resilience';
export {
  mapAgentStatus,
  mapPodiumEvent,
  isPodiumEventName,
  type AgentStatusState,
  type UpstreamEventRule,
  type MappedEvent,
  type PodiumMapContext,
} from './podium-event.mapper';
export { sanitizeErrorMessage, redactSecrets } from './sanitize';
