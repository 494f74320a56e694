import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

/**
 * The process-wide tracer, or null when tracing is off. Set once at boot by the gateway's tracing
 * module when `OTEL_EXPORTER_OTLP_ENDPOINT` is configured; libraries check it with a single branch so
 * that, with tracing off, no span object is ever created on a hot path.
 */
let activeTracer: Tracer | null = null;

export const tracing = {
  /** Installs (or, with null, removes) the tracer every span helper uses. */
  install(tracer: Tracer | null): void {
    activeTracer = tracer;
  },

  /** The tracer, or null when tracing is off. Hot paths branch on this before anything else. */
  get tracer(): Tracer | null {
    return activeTracer;
  },

  /**
   * Runs `fn` inside a new span that is the active one for everything `fn` starts (so outbound calls
   * become its children). The span ends when `fn` settles; a thrown error marks it failed. With
   * tracing off, `fn` runs with `undefined` and nothing is allocated.
   */
  async inSpan<T>(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    fn: (span: Span | undefined) => Promise<T>,
  ): Promise<T> {
    const tracer = activeTracer;
    if (!tracer) return fn(undefined);
    const span = tracer.startSpan(name, { kind, attributes });
    try {
      return await context.with(trace.setSpan(context.active(), span), () => fn(span));
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  },

  /** Adds W3C trace-context headers (`traceparent`) for the active span; no-op with tracing off. */
  injectHeaders(headers: Record<string, string>): void {
    if (!activeTracer) return;
    propagation.inject(context.active(), headers);
  },

  /** Sets an attribute on the active span (e.g. the protocol error code an answer carried). */
  annotate(key: string, value: string | number | boolean): void {
    if (!activeTracer) return;
    trace.getActiveSpan()?.setAttribute(key, value);
  },
};

/** Marks a span failed with the error's name (never its message, which may carry user data). */
export function failSpan(span: Span, err: unknown): void {
  const name = err instanceof Error ? err.name : 'Error';
  span.setStatus({ code: SpanStatusCode.ERROR, message: name });
  span.setAttribute('error.type', name);
}

export { SpanKind, SpanStatusCode, context as traceContext, trace as traceApi, type Span };
