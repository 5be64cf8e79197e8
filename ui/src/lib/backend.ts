// The one door between the UI and Rust. Components receive a `Backend` through context; the app
// passes the real one, built on the generated bindings, and tests pass a fake.
import { getContext, setContext } from 'svelte'
import { commands } from './bindings'
import type { AppInfo, IpcError } from './bindings'

export type { AppInfo, IpcError }

/** A command's outcome: the value, or the error the Rust side returned. */
export type Outcome<T> = { status: 'ok'; data: T } | { status: 'error'; error: IpcError }

/** Everything the UI may ask of the Rust side. */
export interface Backend {
  appInfo(): Promise<Outcome<AppInfo>>
}

/** The real backend: the generated tauri-specta commands. */
export const tauriBackend: Backend = {
  appInfo: () => commands.appInfo(),
}

const KEY = Symbol('backend')

export function provideBackend(backend: Backend): void {
  setContext(KEY, backend)
}

export function useBackend(): Backend {
  const backend = getContext<Backend | undefined>(KEY)
  if (!backend) throw new Error('no Backend in context: mount the component under App')
  return backend
}
