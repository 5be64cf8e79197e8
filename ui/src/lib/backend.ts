// The one door between the UI and Rust. Components receive a `Backend` through context; the app
// passes the real one, built on the generated bindings, and tests pass a fake.
import { getContext, setContext } from 'svelte'
import { commands } from './bindings'
import type { CaseContactInput, CommunicationView_Serialize, ContactCard_Serialize } from './bindings'
import type {
  BlastCheck_Serialize,
  CaseClosure,
  CheckProgress_Serialize,
  CheckProgress_Deserialize,
  ChecksRun_Serialize,
  PassNotice_Serialize,
  RecheckResult_Serialize,
  RecoveryStatus_Serialize,
} from './bindings'
import type { Organisation_Deserialize, Organisation_Serialize, Paper, SavedDocument } from './bindings'
import type { Lessons, ReportPreview, SavedReportFiles } from './bindings'
import type {
  ConnectionTest_Serialize,
  CredentialInput,
  DeviceCodePrompt,
  ProfileDraft_Deserialize,
  ReadinessFinding_Serialize,
  ReadinessReport_Serialize,
  TenantProfile_Serialize,
  TenantProfiles_Serialize,
} from './bindings'
import type {
  AccountProcedure_Serialize,
  AnswerKey_Serialize,
  CaseStep_Serialize,
  GeneratedPractice_Serialize,
  IncidentSize,
  PracticeDebrief_Serialize,
  PracticeScenario,
  StepPlan_Serialize,
  StepResult_Serialize,
} from './bindings'
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
export type { Lessons, ReportPreview, SavedReportFiles } from './bindings'
export type { AuthMethod, CredentialInput, DeviceCodePrompt, FindingStatus, TenantCloud } from './bindings'
/** A tenant profile as Settings lists it (never holds a secret). */
export type TenantProfile = TenantProfile_Serialize
/** Every profile and the default one. */
export type TenantProfiles = TenantProfiles_Serialize
/** A profile as the form sends it (the credential travels separately, once). */
export type ProfileDraft = ProfileDraft_Deserialize
/** The outcome of "Test connection". */
export type ConnectionTest = ConnectionTest_Serialize
/** The readiness check's result. */
export type ReadinessReport = ReadinessReport_Serialize
/** One line of the readiness checklist. */
export type ReadinessFinding = ReadinessFinding_Serialize
/** The organisation's details as settings show them. */
export type Organisation = Organisation_Serialize
/** The organisation's details as the settings form sends them. */
export type OrganisationInput = Organisation_Deserialize

export type { AttackerAction, GeneratedIncident, IncidentSize, PracticeScenario, ReadBack } from './bindings'
/** The practice debrief: the score, the whole answer key and what the attacker did. */
export type PracticeDebrief = PracticeDebrief_Serialize
/** The scenario's answer key, each artefact with whether it is still there. */
export type AnswerKey = AnswerKey_Serialize
/** One artefact of the answer key (attacker-controlled text). */
export type KeyArtefact = AnswerKey['attacker'][number]
/** An address a legitimate user signs in from. */
export type KeyAddress = AnswerKey['legitimateAddresses'][number]
/** Mail taken before the exercise began. */
export type KeyLoss = AnswerKey['lost'][number]
/** A practice started on a generated incident: its case, seed, size and briefing. */
export type GeneratedPractice = GeneratedPractice_Serialize
export type { CaseContactInput, ContactOrigin } from './bindings'
/** The Communication panel of a case: deadlines, contacts and their wording. */
export type CommunicationView = CommunicationView_Serialize
/** One person to tell, with ready-to-adapt wording. */
export type ContactCard = ContactCard_Serialize
/** Where one blast-radius check stands in the case. */
export type BlastCheck = BlastCheck_Serialize
/** Progress of one check during "Run all checks". */
export type CheckProgress = CheckProgress_Serialize
/** What "Run all checks" did. */
export type ChecksRun = ChecksRun_Serialize
/** Recovery gate, sweep hits, watch windows, alerts, links and closing of a case. */
export type RecoveryStatus = RecoveryStatus_Serialize
/** One watch alert. */
export type WatchAlert = RecoveryStatus['alerts'][number]
/** What a watch re-check found. */
export type RecheckResult = RecheckResult_Serialize
/** Where a Temporary Access Pass went (never the pass itself). */
export type PassNotice = PassNotice_Serialize
export type { CaseClosure } from './bindings'
/** One account's steps, as the wizard's step list shows them. */
export type AccountProcedure = AccountProcedure_Serialize
/** One step of the wizard. */
export type WizardStep = AccountProcedure['steps'][number]
/** A step's state in the case. */
export type CaseStep = CaseStep_Serialize
/** What a step would change, from a fresh read of the tenant. */
export type StepPlan = StepPlan_Serialize
/** One object of a plan. */
export type PlanRow = StepPlan['items'][number]
/** What running or re-verifying a step ended with. */
export type StepResult = StepResult_Serialize

/** A command's outcome: the value, or the error the Rust side returned. */
export type Outcome<T> = { status: 'ok'; data: T } | { status: 'error'; error: IpcError }

/** Everything the UI may ask of the Rust side. */
export interface Backend {
  appInfo(): Promise<Outcome<AppInfo>>
  /** Tells the shell the home screen is mounted (start-up timing, `make bench`). */
  uiReady(): Promise<Outcome<null>>
  getOrganisation(): Promise<Outcome<Organisation>>
  saveOrganisation(organisation: OrganisationInput): Promise<Outcome<Organisation>>
  /** Writes the runbook into the data folder's reports/ on `paper` (null: the configured one). */
  saveRunbook(paper: Paper | null): Promise<Outcome<SavedDocument>>
  listCases(): Promise<Outcome<CaseSummary[]>>
  declareIncident(details: CaseDetailsInput, tenantProfile: string): Promise<Outcome<CaseView>>
  openCase(caseId: string): Promise<Outcome<CaseView>>
  updateCase(caseId: string, details: CaseDetailsInput): Promise<Outcome<number>>
  logNotification(caseId: string, notification: NotificationInput): Promise<Outcome<CaseNotification>>
  /** Who to tell about the case and ready-to-adapt wording for each. */
  communicationView(caseId: string): Promise<Outcome<CommunicationView>>
  /** Replaces the contacts entered for the case (journaled); returns the panel again. */
  saveCaseContacts(caseId: string, contacts: CaseContactInput[]): Promise<Outcome<CommunicationView>>
  recoverTornEntry(caseId: string): Promise<Outcome<CaseView>>
  exportBundle(caseId: string, operationId: string, onProgress: OnProgress): Promise<Outcome<BundleWritten>>
  verifyBundle(path: string, operationId: string, onProgress: OnProgress): Promise<Outcome<BundleVerification>>
  cancelOperation(operationId: string): Promise<boolean>
  listProfiles(): Promise<Outcome<TenantProfiles>>
  /** `credential` is sent once and goes to the OS keychain; it never comes back. */
  createProfile(draft: ProfileDraft, credential: CredentialInput): Promise<Outcome<TenantProfile>>
  updateProfile(profileId: string, draft: ProfileDraft, credential: CredentialInput): Promise<Outcome<TenantProfile>>
  deleteProfile(profileId: string): Promise<Outcome<null>>
  testProfile(profileId: string): Promise<Outcome<ConnectionTest>>
  /** Shows the code through `onPrompt`; resolves once the admin has signed in (tokens stay in Rust). */
  signInWithDeviceCode(profileId: string, onPrompt: (prompt: DeviceCodePrompt) => void): Promise<Outcome<null>>
  cancelDeviceSignIn(profileId: string): Promise<Outcome<boolean>>
  runReadiness(profileId: string): Promise<Outcome<ReadinessReport>>
  /** Writes the public .cer into the data folder and returns where. */
  exportCertificate(profileId: string): Promise<Outcome<SavedDocument>>
  /** Where every step of every account of a case stands. */
  procedureView(caseId: string): Promise<Outcome<AccountProcedure[]>>
  /** What step `key` of account number `account` would change (a fresh read; changes nothing). */
  planStep(caseId: string, account: number, key: string): Promise<Outcome<StepPlan>>
  /**
   * Runs a confirmed step on the `selected` plan rows; evidence first, then the change, then the
   * read-back. `windowStart` (triage only) corrects the proposed incident window start; `note` is
   * journaled with the step (a manual blast-radius check's finding in the admin's words).
   */
  runStep(
    caseId: string,
    account: number,
    key: string,
    selected: string[],
    typedAccount: string | null,
    windowStart: string | null,
    note?: string | null,
  ): Promise<Outcome<StepResult>>
  skipStep(caseId: string, account: number, key: string, reason: string): Promise<Outcome<CaseStep>>
  /** Where each blast-radius check of account number `account` stands. */
  blastChecks(caseId: string, account: number): Promise<Outcome<BlastCheck[]>>
  /**
   * Plans every open check at once and records those that need no decision (clean, not
   * available), reporting each check through `onProgress`; cancel with `cancelOperation`.
   */
  runChecks(
    caseId: string,
    account: number,
    operationId: string,
    onProgress: (progress: CheckProgress) => void,
  ): Promise<Outcome<ChecksRun>>
  /** Recovery gate, sweep hits, watch windows and alerts, links and closing. */
  recoveryStatus(caseId: string): Promise<Outcome<RecoveryStatus>>
  /** Re-checks the watched accounts now; new alerts are journaled and notified. */
  recheckWatch(caseId: string): Promise<Outcome<RecheckResult>>
  /** Opens a sideways-sweep hit as a new case linked to this one. */
  openLinkedCase(caseId: string, account: number, hitAccount: string): Promise<Outcome<CaseView>>
  /** Closes the case with a summary; refused while a check is open. */
  closeCase(caseId: string, summary: string): Promise<Outcome<CaseClosure>>
  /** Puts the Temporary Access Pass on the clipboard again (cleared after a minute). */
  copyTemporaryAccessPass(caseId: string): Promise<Outcome<PassNotice>>
  reverifyStep(caseId: string, account: number, key: string): Promise<Outcome<StepResult>>
  listScenarios(): Promise<PracticeScenario[]>
  /** Starts a scenario in a fresh training tenant and returns its new case. */
  startPractice(scenario: string): Promise<Outcome<CaseView>>
  /**
   * Generates an incident from `seed` (a random one when null) at `size`, starts it in a fresh
   * training tenant and returns its new case with the seed that replays it.
   */
  startGeneratedPractice(seed: number | null, size: IncidentSize): Promise<Outcome<GeneratedPractice>>
  practiceDebrief(caseId: string): Promise<Outcome<PracticeDebrief>>
  /** The incident report's first page (an SVG of glyph outlines: show it as an image) and lessons. */
  reportPreview(caseId: string): Promise<Outcome<ReportPreview>>
  /** Journals the lessons-learned fields; false when nothing changed. */
  saveLessons(caseId: string, lessons: Lessons): Promise<Outcome<boolean>>
  /** Saves the report PDF and its timeline (CSV, JSON lines) into the exports folder. */
  saveReport(caseId: string): Promise<Outcome<SavedReportFiles>>
  /** Opens a report saved in the exports folder in the system's viewer (where it is printed). */
  openReport(path: string): Promise<Outcome<null>>
}

/** The real backend: the generated tauri-specta commands. */
export const tauriBackend: Backend = {
  appInfo: () => commands.appInfo(),
  uiReady: () => commands.uiReady(),
  getOrganisation: () => commands.getOrganisation(),
  saveOrganisation: (organisation) => commands.saveOrganisation(organisation),
  saveRunbook: (paper) => commands.saveRunbook(paper),
  listCases: () => commands.listCases(),
  declareIncident: (details, tenantProfile) => commands.declareIncident(details, tenantProfile),
  openCase: (caseId) => commands.openCase(caseId),
  updateCase: (caseId, details) => commands.updateCase(caseId, details),
  logNotification: (caseId, notification) => commands.logNotification(caseId, notification),
  communicationView: (caseId) => commands.communicationView(caseId),
  saveCaseContacts: (caseId, contacts) => commands.saveCaseContacts(caseId, contacts),
  recoverTornEntry: (caseId) => commands.recoverTornEntry(caseId),
  exportBundle: (caseId, operationId, onProgress) =>
    commands.exportBundle(caseId, operationId, progressChannel(onProgress)),
  verifyBundle: (path, operationId, onProgress) =>
    commands.verifyBundle(path, operationId, progressChannel(onProgress)),
  cancelOperation: (operationId) => commands.cancelOperation(operationId),
  listProfiles: () => commands.listProfiles(),
  createProfile: (draft, credential) => commands.createProfile(draft, credential),
  updateProfile: (profileId, draft, credential) => commands.updateProfile(profileId, draft, credential),
  deleteProfile: (profileId) => commands.deleteProfile(profileId),
  testProfile: (profileId) => commands.testProfile(profileId),
  signInWithDeviceCode: (profileId, onPrompt) => {
    const channel = new Channel<DeviceCodePrompt>()
    channel.onmessage = onPrompt
    return commands.signInWithDeviceCode(profileId, channel)
  },
  cancelDeviceSignIn: (profileId) => commands.cancelDeviceSignIn(profileId),
  runReadiness: (profileId) => commands.runReadiness(profileId),
  exportCertificate: (profileId) => commands.exportCertificate(profileId),
  procedureView: (caseId) => commands.procedureView(caseId),
  planStep: (caseId, account, key) => commands.planStep(caseId, account, key),
  runStep: (caseId, account, key, selected, typedAccount, windowStart, note) =>
    commands.runStep(caseId, account, key, selected, typedAccount, windowStart, note ?? null),
  skipStep: (caseId, account, key, reason) => commands.skipStep(caseId, account, key, reason),
  reverifyStep: (caseId, account, key) => commands.reverifyStep(caseId, account, key),
  blastChecks: (caseId, account) => commands.blastChecks(caseId, account),
  runChecks: (caseId, account, operationId, onProgress) => {
    // The generated command takes the channel's incoming shape, where absent fields may be missing.
    const channel = new Channel<CheckProgress_Deserialize>()
    channel.onmessage = (p) => onProgress({ ...p, status: p.status ?? null, message: p.message ?? null })
    return commands.runChecks(caseId, account, operationId, channel)
  },
  recoveryStatus: (caseId) => commands.recoveryStatus(caseId),
  recheckWatch: (caseId) => commands.recheckWatch(caseId),
  openLinkedCase: (caseId, account, hitAccount) => commands.openLinkedCase(caseId, account, hitAccount),
  closeCase: (caseId, summary) => commands.closeCase(caseId, summary),
  copyTemporaryAccessPass: (caseId) => commands.copyTemporaryAccessPass(caseId),
  listScenarios: () => commands.listScenarios(),
  startPractice: (scenario) => commands.startPractice(scenario),
  startGeneratedPractice: (seed, size) => commands.startGeneratedPractice(seed, size),
  practiceDebrief: (caseId) => commands.practiceDebrief(caseId),
  reportPreview: (caseId) => commands.reportPreview(caseId),
  saveLessons: (caseId, lessons) => commands.saveLessons(caseId, lessons),
  saveReport: (caseId) => commands.saveReport(caseId),
  openReport: (path) => commands.openReport(path),
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
