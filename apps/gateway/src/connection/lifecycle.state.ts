import { Injectable } from '@nestjs/common';

/** Whether the process is accepting work; flipped once when shutdown begins. */
@Injectable()
export class LifecycleState {
  draining = false;
  readonly startedAt = Date.now();
  /** Set once the HTTP listener is up. */
  listening = false;
}
