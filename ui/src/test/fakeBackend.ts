// A complete fake `Backend` for component tests: every command answers something harmless, and a
// test overrides only the commands it is about.
import type { Backend, Organisation, TenantProfile } from '../lib/backend'

const notUsed = { kind: 'failed', message: 'not used by this test' } as const

export function fakeBackend(overrides: Partial<Backend> = {}): Backend {
  return {
    uiReady: async () => ({ status: 'ok', data: null }),
    appInfo: async () => ({
      status: 'ok',
      data: { version: '0.0.0', dataDir: '/tmp/firebreak-test', tenantConfigured: false },
    }),
    listCases: async () => ({ status: 'ok', data: [] }),
    declareIncident: async () => ({ status: 'error', error: notUsed }),
    openCase: async () => ({ status: 'error', error: notUsed }),
    updateCase: async () => ({ status: 'error', error: notUsed }),
    logNotification: async () => ({ status: 'error', error: notUsed }),
    communicationView: async () => ({ status: 'error', error: notUsed }),
    saveCaseContacts: async () => ({ status: 'error', error: notUsed }),
    recoverTornEntry: async () => ({ status: 'error', error: notUsed }),
    exportBundle: async () => ({ status: 'error', error: notUsed }),
    verifyBundle: async () => ({ status: 'error', error: notUsed }),
    cancelOperation: async () => false,
    getOrganisation: async () => ({ status: 'ok', data: emptyOrganisation() }),
    saveOrganisation: async () => ({ status: 'error', error: notUsed }),
    saveRunbook: async () => ({ status: 'error', error: notUsed }),
    listProfiles: async () => ({ status: 'ok', data: { profiles: [trainingProfile()], defaultId: 'training' } }),
    createProfile: async () => ({ status: 'error', error: notUsed }),
    updateProfile: async () => ({ status: 'error', error: notUsed }),
    deleteProfile: async () => ({ status: 'error', error: notUsed }),
    testProfile: async () => ({ status: 'error', error: notUsed }),
    signInWithDeviceCode: async () => ({ status: 'error', error: notUsed }),
    cancelDeviceSignIn: async () => ({ status: 'ok', data: false }),
    runReadiness: async () => ({ status: 'error', error: notUsed }),
    exportCertificate: async () => ({ status: 'error', error: notUsed }),
    procedureView: async () => ({ status: 'error', error: notUsed }),
    planStep: async () => ({ status: 'error', error: notUsed }),
    runStep: async () => ({ status: 'error', error: notUsed }),
    skipStep: async () => ({ status: 'error', error: notUsed }),
    reverifyStep: async () => ({ status: 'error', error: notUsed }),
    blastChecks: async () => ({ status: 'error', error: notUsed }),
    runChecks: async () => ({ status: 'error', error: notUsed }),
    recoveryStatus: async () => ({ status: 'error', error: notUsed }),
    recheckWatch: async () => ({ status: 'error', error: notUsed }),
    openLinkedCase: async () => ({ status: 'error', error: notUsed }),
    closeCase: async () => ({ status: 'error', error: notUsed }),
    copyTemporaryAccessPass: async () => ({ status: 'error', error: notUsed }),
    listScenarios: async () => [],
    startPractice: async () => ({ status: 'error', error: notUsed }),
    startGeneratedPractice: async () => ({ status: 'error', error: notUsed }),
    practiceDebrief: async () => ({ status: 'error', error: notUsed }),
    reportPreview: async () => ({ status: 'error', error: notUsed }),
    saveLessons: async () => ({ status: 'error', error: notUsed }),
    saveReport: async () => ({ status: 'error', error: notUsed }),
    openReport: async () => ({ status: 'error', error: notUsed }),
    ...overrides,
  }
}

/** An organisation nobody has configured yet. */
export function emptyOrganisation(): Organisation {
  const none = () => ({ name: '', phone: '', email: '' })
  return {
    name: '',
    contacts: { securityLead: none(), privacyLead: none(), manager: none(), finance: none(), itAdmin: none() },
    breakGlassAccounts: [],
    nis2Applies: null,
    paper: 'a4',
  }
}

/** The built-in training profile, as `list_profiles` returns it. */
export function trainingProfile(): TenantProfile {
  return {
    id: 'training',
    displayName: 'Training tenant',
    tenant: '',
    cloud: 'worldwide',
    authMethod: 'clientSecret',
    clientId: '',
    breakGlassUpn: null,
    signedInAdminUpn: null,
    certificate: null,
    baseUrl: null,
    builtIn: true,
    signedIn: false,
  }
}
