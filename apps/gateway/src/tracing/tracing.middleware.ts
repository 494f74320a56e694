import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { SpanKind, failSpan, traceApi, traceContext, tracing } from '@app/common';

/**
 * One server span per admin API request: `<METHOD> <route template>` once routed, with method,
 * route, path and status. The span is active while the request is handled, so the calls it makes
 * (Podium, persistence) become its children. With tracing off it only calls `next()`.
 */
@Injectable()
export class TracingMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const tracer = tracing.tracer;
    if (!tracer) return next();
    const span = tracer.startSpan(`HTTP ${req.method}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'url.path': req.originalUrl.split('?')[0] },
    });
    res.once('close', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      if (typeof route === 'string') {
        span.updateName(`${req.method} ${req.baseUrl}${route}`);
        span.setAttribute('http.route', `${req.baseUrl}${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) failSpan(span, new Error(`HTTP ${res.statusCode}`));
      span.end();
    });
    traceContext.with(traceApi.setSpan(traceContext.active(), span), () => next());
  }
}
