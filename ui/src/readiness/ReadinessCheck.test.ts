import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import type { Backend, Outcome, ReadinessFinding, ReadinessReport, TenantProfile } from '../lib/backend'
import { fakeBackend, trainingProfile } from '../test/fakeBackend'
import Host from '../test/Host.svelte'
import ReadinessCheck from './ReadinessCheck.svelte'

const ID = '0f8b6f0e-7d53-4d58-9c2b-5a1f0d3c2b11'

function contoso(overrides: Partial<TenantProfile> = {}): TenantProfile {
  return {
    ...trainingProfile(),
    id: ID,
    displayName: 'Contoso',
    tenant: 'contoso.onmicrosoft.com',
    clientId: '6e7b768e-07e2-4810-8459-485f84f8f204',
    builtIn: false,
    ...overrides,
  }
}

function finding(overrides: Partial<ReadinessFinding>): ReadinessFinding {
  return { id: 'x', status: 'pass', title: '', detail: '', fix: null, missing: null, blocks: [], ...overrides }
}

function report(findings: ReadinessFinding[], overrides: Partial<ReadinessReport> = {}): ReadinessReport {
  return {
    profileName: 'Training tenant',
    tenant: '7a1c7e40-2f7d-4c8e-9a51-2b64d2c0e9f3',
    cloud: 'worldwide',
    mode: 'appOnly',
    checkedAt: '2026-11-22T03:00:00Z',
    findings,
    ready: !findings.some((f) => f.status === 'gap'),
    text: 'Firebreak readiness check: Training tenant\nREADY\n',
    ...overrides,
  }
}

function mount(backend: Backend) {
  return render(Host, { backend, component: ReadinessCheck })
}

describe('Readiness check', () => {
  it('runs on the default profile, shows progress, then a green checklist for the training tenant', async () => {
    let release: ((o: Outcome<ReadinessReport>) => void) | null = null
    const asked: string[] = []
    const backend = fakeBackend({
      runReadiness: (id) => {
        asked.push(id)
        return new Promise((resolve) => (release = resolve))
      },
    })
    mount(backend)
    expect((await screen.findByTestId('readiness-profile')).textContent).toContain('Training tenant')
    await fireEvent.click(screen.getByRole('button', { name: 'Run readiness check' }))
    expect(asked).toEqual(['training'])
    expect(screen.getByRole('button', { name: 'Checking…' })).toHaveProperty('disabled', true)
    expect(screen.getByLabelText('Readiness check in progress')).toBeTruthy()

    release!({
      status: 'ok',
      data: report([
        finding({ id: 'token.graph', title: 'Firebreak can sign in to Microsoft Graph', detail: 'A token was issued.' }),
        finding({ id: 'retention', status: 'info', title: 'Likely log retention', detail: 'About 30 days.' }),
      ]),
    })
    const summary = await screen.findByTestId('readiness-summary')
    expect(summary.textContent).toContain('Ready')
    expect(within(summary).getByText('Training tenant', { selector: '.badge' })).toBeTruthy()
    const items = within(screen.getByTestId('readiness-findings')).getAllByRole('listitem')
    expect(items.map((li) => li.dataset.status)).toEqual(['pass', 'info'])
    expect(items[0].textContent).toContain('Pass')
    expect(screen.queryByLabelText('Readiness check in progress')).toBeNull()
  })

  it('names each gap with what to add, the steps it blocks and how to fix it', async () => {
    const backend = fakeBackend({
      listProfiles: async () => ({ status: 'ok', data: { profiles: [trainingProfile(), contoso()], defaultId: ID } }),
      runReadiness: async () => ({
        status: 'ok',
        data: report(
          [
            finding({
              id: 'permission.UserAuthenticationMethod.ReadWrite.All',
              status: 'gap',
              title: 'Missing application permission UserAuthenticationMethod.ReadWrite.All',
              detail: 'Without it Firebreak cannot remove authentication methods.',
              missing: 'UserAuthenticationMethod.ReadWrite.All',
              blocks: ['Review authentication methods', 'Remove attacker methods'],
              fix: 'Add it to the app registration, then Grant admin consent.',
            }),
            finding({ id: 'auditLog', status: 'cannotTell', title: 'Audit-log search did not answer', detail: 'Timed out.' }),
          ],
          { profileName: 'Contoso', tenant: 'contoso.onmicrosoft.com' },
        ),
      }),
    })
    mount(backend)
    expect(((await screen.findByLabelText('Tenant profile')) as HTMLSelectElement).value, 'a configured profile is the default').toBe(ID)
    await fireEvent.click(screen.getByRole('button', { name: 'Run readiness check' }))
    const summary = await screen.findByTestId('readiness-summary')
    expect(summary.textContent).toContain('Not ready: 1 gap to fix')
    const gap = screen.getByText(/Missing application permission/).closest('li') as HTMLElement
    expect(gap.dataset.status).toBe('gap')
    expect(gap.textContent).toContain('Add: UserAuthenticationMethod.ReadWrite.All')
    expect(gap.textContent).toContain('Blocks: Review authentication methods, Remove attacker methods')
    expect(gap.textContent).toContain('How to fix: Add it to the app registration, then Grant admin consent.')
    expect(screen.getByText('Cannot tell')).toBeTruthy()
  })

  it('offers a device-code sign-in when a delegated profile is not signed in, then runs again', async () => {
    let runs = 0
    const backend = fakeBackend({
      listProfiles: async () => ({
        status: 'ok',
        data: { profiles: [trainingProfile(), contoso({ authMethod: 'deviceCode' })], defaultId: ID },
      }),
      runReadiness: async () => {
        runs += 1
        return runs === 1
          ? { status: 'error', error: { kind: 'signInRequired', message: 'Sign in with a device code first.' } }
          : { status: 'ok', data: report([finding({ title: 'Signed in' })], { mode: 'delegated' }) }
      },
      signInWithDeviceCode: async (_id, onPrompt) => {
        onPrompt({ userCode: 'ABCD1234', verificationUri: 'https://microsoft.com/devicelogin', message: 'Enter the code.', expiresInSecs: 900 })
        return { status: 'ok', data: null }
      },
    })
    mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run readiness check' }))
    expect((await screen.findByTestId('readiness-error')).textContent).toContain('device code')
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in with a device code' }))
    await waitFor(() => expect(runs).toBe(2))
    expect((await screen.findByTestId('readiness-summary')).textContent).toContain('delegated sign-in')
  })

  it('copies the report as text', async () => {
    const copied: string[] = []
    Object.defineProperty(navigator, 'clipboard', {
      value: { writeText: async (t: string) => void copied.push(t) },
      configurable: true,
    })
    const backend = fakeBackend({ runReadiness: async () => ({ status: 'ok', data: report([finding({})]) }) })
    mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run readiness check' }))
    await fireEvent.click(await screen.findByRole('button', { name: 'Copy as text' }))
    await waitFor(() => expect(copied).toEqual(['Firebreak readiness check: Training tenant\nREADY\n']))
    expect(await screen.findByText(/Copied/)).toBeTruthy()
  })

  it('renders hostile profile names and tenant strings as text', async () => {
    const hostile = '<img src=x onerror="window.pwned=1">'
    const backend = fakeBackend({
      listProfiles: async () => ({
        status: 'ok',
        data: { profiles: [trainingProfile(), contoso({ displayName: hostile, tenant: '<b>t</b>' })], defaultId: ID },
      }),
      runReadiness: async () => ({
        status: 'ok',
        data: report([finding({ status: 'gap', title: hostile, detail: '<script>x</script>', blocks: ['<i>a</i>'] })], {
          profileName: hostile,
        }),
      }),
    })
    const { container } = mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run readiness check' }))
    await screen.findByTestId('readiness-summary')
    expect(screen.getByRole('option', { name: hostile })).toBeTruthy()
    expect(container.querySelector('img, b, i, script')).toBeNull()
    expect(screen.getByTestId('readiness-summary').textContent).toContain(hostile)
  })
})
