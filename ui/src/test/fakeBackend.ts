// A complete fake `Backend` for component tests: every command answers something harmless, and a
// test overrides only the commands it is about.
import type { Backend, Organisation } from '../lib/backend'

const notUsed = { kind: 'failed', message: 'not used by this test' } as const

export function fakeBackend(overrides: Partial<Backend> = {}): Backend {
  return {
    appInfo: async () => ({
      status: 'ok',
      data: { version: '0.0.0', dataDir: '/tmp/firebreak-test', tenantConfigured: false },
    }),
    listCases: async () => ({ status: 'ok', data: [] }),
    declareIncident: async () => ({ status: 'error', error: notUsed }),
    openCase: async () => ({ status: 'error', error: notUsed }),
    updateCase: async () => ({ status: 'error', error: notUsed }),
    logNotification: async () => ({ status: 'error', error: notUsed }),
    recoverTornEntry: async () => ({ status: 'error', error: notUsed }),
    exportBundle: async () => ({ status: 'error', error: notUsed }),
    verifyBundle: async () => ({ status: 'error', error: notUsed }),
    cancelOperation: async () => false,
    getOrganisation: async () => ({ status: 'ok', data: emptyOrganisation() }),
    saveOrganisation: async () => ({ status: 'error', error: notUsed }),
    saveRunbook: async () => ({ status: 'error', error: notUsed }),
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
