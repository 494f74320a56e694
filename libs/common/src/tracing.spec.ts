import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { SpanKind, SpanStatusCode, tracing } from './tracing';

describe('tracing helpers', () => {
  describe('off (no tracer installed)', () => {
    it('runs the work without a span and adds no header', async () => {
      expect(tracing.tracer).toBeNull();
      expect(await tracing.inSpan('x', SpanKind.INTERNAL, {}, async (span) => span)).toBeUndefined();
      const headers: Record<string, string> = {};
      tracing.injectHeaders(headers);
      tracing.annotate('k', 'v');
      expect(headers).toEqual({});
    });
  });

  describe('on', () => {
    let provider: NodeTracerProvider;
    let exporter: InMemorySpanExporter;

    beforeEach(() => {
      exporter = new InMemorySpanExporter();
      provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      provider.register();
      tracing.install(provider.getTracer('spec'));
    });
    afterEach(async () => {
      tracing.install(null);
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    it('makes the span active for the work: children, annotations and traceparent follow it', async () => {
      const headers: Record<string, string> = {};
      await tracing.inSpan('outer', SpanKind.SERVER, { a: 1 }, async () => {
        await Promise.resolve();
        tracing.annotate('diminuendo.error.code', 'SESSION_NOT_FOUND');
        tracing.injectHeaders(headers);
        await tracing.inSpan('inner', SpanKind.CLIENT, {}, async () => undefined);
      });
      const [inner, outer] = exporter.getFinishedSpans();
      expect(outer.name).toBe('outer');
      expect(outer.attributes).toEqual({ a: 1, 'diminuendo.error.code': 'SESSION_NOT_FOUND' });
      expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
      expect(headers.traceparent).toBe(`00-${outer.spanContext().traceId}-${outer.spanContext().spanId}-01`);
    });

    it('marks the span failed with the error class only, and rethrows', async () => {
      class SecretError extends Error {
        override name = 'SecretError';
      }
      await expect(
        tracing.inSpan('failing', SpanKind.INTERNAL, {}, async () => {
          throw new SecretError('user text');
        }),
      ).rejects.toThrow('user text');
      const [span] = exporter.getFinishedSpans();
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SecretError' });
      expect(span.attributes['error.type']).toBe('SecretError');
      expect(JSON.stringify(span.attributes)).not.toContain('user text');
    });
  });
});
