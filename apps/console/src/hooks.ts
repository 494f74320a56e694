import { useSyncExternalStore } from 'react';
import type { ConnectionState, Diminuendo, SessionView, SessionViewState } from '@diminuendo/client';

export function useConnectionState(client: Diminuendo): ConnectionState {
  return useSyncExternalStore(
    (onChange) => client.on('state', onChange),
    () => client.state,
  );
}

export function useSessionView(view: SessionView): SessionViewState {
  return useSyncExternalStore(view.subscribe, view.getSnapshot);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
