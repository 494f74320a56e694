import type { UnsequencedEvent } from '@app/protocol';
import type { UpstreamEventExtension } from '../../apps/gateway/src/live/event-pipeline';

/** The session event the extension publishes for an upstream `lint.report`. */
export interface LintReportEvent {
  type: 'lint_report';
  sessionId: string;
  turnId?: string;
  errors: number;
  warnings: number;
  summary: string;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);

/**
 * Podium's `lint.report {errors, warnings, summary}` → `lint_report`: sent live to the session's
 * viewers (not a durable type, so not replayed). Frames without a summary are dropped.
 */
export const LINT_REPORT: UpstreamEventExtension = {
  upstream: 'lint.report',
  map: (content, ctx) => {
    if (typeof content.summary !== 'string' || content.summary.length === 0) return [];
    const event: LintReportEvent = {
      type: 'lint_report',
      sessionId: ctx.sessionId,
      ...(ctx.turnId ? { turnId: ctx.turnId } : {}),
      errors: count(content.errors),
      warnings: count(content.warnings),
      summary: content.summary.slice(0, 2000),
    };
    return [event as unknown as UnsequencedEvent];
  },
};
