import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { tracing } from '@app/common';
import type { AllConfig } from '../config';

/** At shutdown, spans still buffered get this long to reach the collector; then they are dropped. */
export const TRACE_FLUSH_TIMEOUT_MS = 2000;

/** What shutting tracing down needs: flush what is buffered, then stop exporting. */
interface TracerHandle {
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry traces, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Then the SDK is loaded
 * (never otherwise), spans are batched and sent as OTLP/HTTP JSON to `<endpoint>/v1/traces` under
 * `OTEL_SERVICE_NAME`, W3C trace context is propagated, and whatever is still buffered is flushed when
 * the application shuts down. With it unset, every span helper is a single branch on a null tracer.
 */
@Injectable()
export class TracingService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TracingService.name);
  private handle: TracerHandle | null = null;

  constructor(private readonly config: ConfigService<AllConfig, true>) {}

  get enabled(): boolean {
    return this.handle !== null;
  }

  async onModuleInit(): Promise<void> {
    const { endpoint, serviceName } = this.config.get('app', { infer: true }).tracing;
    if (!endpoint) return;
    // Loaded here only, so that with tracing off none of the SDK is ever required.
    const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
      await Promise.all([
        import('@opentelemetry/sdk-trace-node'),
        import('@opentelemetry/exporter-trace-otlp-http'),
        import('@opentelemetry/resources'),
      ]);
    const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    provider.register(); // AsyncLocalStorage context and the W3C trace-context propagator
    tracing.install(provider.getTracer('diminuendo-gateway'));
    this.handle = provider;
    this.logger.log(`traces exported to ${endpoint} as ${serviceName}`);
  }

  /**
   * Flushes buffered spans; runs among the last shutdown steps, after the drain. Bounded by
   * `TRACE_FLUSH_TIMEOUT_MS`, so that a collector that does not answer cannot hold the shutdown.
   */
  async onApplicationShutdown(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    this.handle = null;
    tracing.install(null);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), TRACE_FLUSH_TIMEOUT_MS);
    });
    try {
      const outcome = await Promise.race([handle.shutdown(), expired]);
      if (outcome === 'expired') this.logger.warn('collector did not take the last spans in time; dropped');
    } catch (err) {
      this.logger.warn(`could not flush traces: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
