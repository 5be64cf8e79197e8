// The one door between the UI and Rust. Components receive a `Backend` through context; the app
// passes the real one, built on the generated bindings, and tests pass a fake.
import { getContext, setContext } from 'svelte'
import { commands } from './bindings'
import type { Organisation_Deserialize, Organisation_Serialize, Paper, SavedDocument } from './bindings'
import { Channel } from '@tauri-apps/api/core'
import type {
  AppInfo,
  IpcError,
  BundleWritten,
  ByteProgress,
  CaseSummary,
  CaseDetails_Deserialize,
  CaseDetails_Serialize,
  CaseNotification_Serialize,
  CaseView_Serialize,
  BundleVerification_Serialize,
  NotificationInput_Deserialize,
} from './bindings'

export type { AppInfo, IpcError, BundleWritten, ByteProgress, CaseSummary }
export type {
  AffectedWorkload,
  AlertSource,
  CommsWarning,
  ContactChannel,
  ContactRole,
  EvidenceItem,
  IncidentSeverity,
  JournalHealth,
} from './bindings'
/** A case's details as the case page shows them. */
export type CaseDetails = CaseDetails_Serialize
/** A case's details as the forms send them. */
export type CaseDetailsInput = CaseDetails_Deserialize
/** Everything the case page shows. */
export type CaseView = CaseView_Serialize
/** A logged notification. */
export type CaseNotification = CaseNotification_Serialize
/** A notification as the form sends it. */
export type NotificationInput = NotificationInput_Deserialize
/** What a bundle verification found. */
export type BundleVerification = BundleVerification_Serialize
/** Receives progress of a long operation. */
export type OnProgress = (progress: ByteProgress) => void

export type { OrganisationContact, Paper, SavedDocument } from './bindings'
/** The organisation's details as settings show them. */
export type Organisation = Organisation_Serialize
/** The organisation's details as the settings form sends them. */
export type OrganisationInput = Organisation_Deserialize

/** A command's outcome: the value, or the error the Rust side returned. */
export type Outcome<T> = { status: 'ok'; data: T } | { status: 'error'; error: IpcError }

/** Everything the UI may ask of the Rust side. */
export interface Backend {
  appInfo(): Promise<Outcome<AppInfo>>
  getOrganisation(): Promise<Outcome<Organisation>>
  saveOrganisation(organisation: OrganisationInput): Promise<Outcome<Organisation>>
  /** Writes the runbook into the data folder's reports/ on `paper` (null: the configured one). */
  saveRunbook(paper: Paper | null): Promise<Outcome<SavedDocument>>
  listCases(): Promise<Outcome<CaseSummary[]>>
  declareIncident(details: CaseDetailsInput): Promise<Outcome<CaseView>>
  openCase(caseId: string): Promise<Outcome<CaseView>>
  updateCase(caseId: string, details: CaseDetailsInput): Promise<Outcome<number>>
  logNotification(caseId: string, notification: NotificationInput): Promise<Outcome<CaseNotification>>
  recoverTornEntry(caseId: string): Promise<Outcome<CaseView>>
  exportBundle(caseId: string, operationId: string, onProgress: OnProgress): Promise<Outcome<BundleWritten>>
  verifyBundle(path: string, operationId: string, onProgress: OnProgress): Promise<Outcome<BundleVerification>>
  cancelOperation(operationId: string): Promise<boolean>
}

/** The real backend: the generated tauri-specta commands. */
export const tauriBackend: Backend = {
  appInfo: () => commands.appInfo(),
  getOrganisation: () => commands.getOrganisation(),
  saveOrganisation: (organisation) => commands.saveOrganisation(organisation),
  saveRunbook: (paper) => commands.saveRunbook(paper),
  listCases: () => commands.listCases(),
  declareIncident: (details) => commands.declareIncident(details),
  openCase: (caseId) => commands.openCase(caseId),
  updateCase: (caseId, details) => commands.updateCase(caseId, details),
  logNotification: (caseId, notification) => commands.logNotification(caseId, notification),
  recoverTornEntry: (caseId) => commands.recoverTornEntry(caseId),
  exportBundle: (caseId, operationId, onProgress) =>
    commands.exportBundle(caseId, operationId, progressChannel(onProgress)),
  verifyBundle: (path, operationId, onProgress) =>
    commands.verifyBundle(path, operationId, progressChannel(onProgress)),
  cancelOperation: (operationId) => commands.cancelOperation(operationId),
}

function progressChannel(onProgress: OnProgress): Channel<ByteProgress> {
  const channel = new Channel<ByteProgress>()
  channel.onmessage = onProgress
  return channel
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
