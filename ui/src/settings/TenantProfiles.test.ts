import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import type { Backend, CredentialInput, DeviceCodePrompt, ProfileDraft, TenantProfile } from '../lib/backend'
import { fakeBackend, trainingProfile } from '../test/fakeBackend'
import Host from '../test/Host.svelte'
import TenantProfiles from './TenantProfiles.svelte'

const SECRET = 'Xq8~not-for-the-screen.5c2f'
const ID = '0f8b6f0e-7d53-4d58-9c2b-5a1f0d3c2b11'

function profile(overrides: Partial<TenantProfile> = {}): TenantProfile {
  return {
    id: ID,
    displayName: 'Contoso',
    tenant: 'contoso.onmicrosoft.com',
    cloud: 'worldwide',
    authMethod: 'clientSecret',
    clientId: '6e7b768e-07e2-4810-8459-485f84f8f204',
    breakGlassUpn: 'breakglass@contoso.onmicrosoft.com',
    signedInAdminUpn: null,
    certificate: null,
    baseUrl: null,
    builtIn: false,
    signedIn: false,
    ...overrides,
  }
}

/** A backend whose profile list changes as commands are called, like the real one. */
function withProfiles(initial: TenantProfile[], overrides: Partial<Backend> = {}) {
  const store = { profiles: [trainingProfile(), ...initial] }
  const backend = fakeBackend({
    listProfiles: async () => ({
      status: 'ok',
      data: { profiles: store.profiles, defaultId: store.profiles[1]?.id ?? 'training' },
    }),
    ...overrides,
  })
  return { store, backend }
}

function mount(backend: Backend) {
  return render(Host, { backend, component: TenantProfiles })
}

function item(container: HTMLElement, id: string): HTMLElement {
  const li = container.querySelector<HTMLElement>(`li[data-profile-id="${id}"]`)
  if (!li) throw new Error(`no profile ${id} in the list`)
  return li
}

function inputValues(container: HTMLElement): string[] {
  return Array.from(container.querySelectorAll('input')).map((i) => i.value)
}

describe('Tenant profiles', () => {
  it('lists the training tenant as built in, testable and not deletable', async () => {
    const { backend } = withProfiles([])
    const { container } = mount(backend)
    await screen.findByText('Training tenant')
    const training = item(container, 'training')
    expect(within(training).getByText('Built in')).toBeTruthy()
    expect(within(training).getByRole('button', { name: 'Test connection' })).toBeTruthy()
    expect(within(training).queryByRole('button', { name: /Delete/ })).toBeNull()
    expect(within(training).queryByRole('button', { name: 'Edit' })).toBeNull()
  })

  it('sends a typed client secret once, to create, and never shows it again', async () => {
    const sent: { draft: ProfileDraft; credential: CredentialInput }[] = []
    const { store, backend } = withProfiles([], {
      createProfile: async (draft, credential) => {
        sent.push({ draft, credential })
        const created = profile({ displayName: draft.displayName, tenant: draft.tenant })
        store.profiles = [...store.profiles, created]
        return { status: 'ok', data: created }
      },
    })
    const { container } = mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Add a profile' }))
    const form = screen.getByTestId('profile-form')
    await fireEvent.input(within(form).getByLabelText('Name'), { target: { value: 'Contoso' } })
    await fireEvent.input(within(form).getByLabelText('Tenant id or primary domain'), {
      target: { value: 'contoso.onmicrosoft.com' },
    })
    await fireEvent.change(within(form).getByLabelText('Cloud'), { target: { value: 'usGovGccHigh' } })
    await fireEvent.input(within(form).getByLabelText(/Application \(client\) id/), {
      target: { value: '6e7b768e-07e2-4810-8459-485f84f8f204' },
    })
    await fireEvent.click(within(form).getByLabelText(/Client secret/, { selector: 'input[type=radio]' }))
    const secret = within(form).getByLabelText(/^Client secret/, { selector: 'input[type=password]' }) as HTMLInputElement
    expect(secret.type, 'the secret is typed into a password field').toBe('password')
    await fireEvent.input(secret, { target: { value: SECRET } })
    await fireEvent.input(within(form).getByLabelText(/Break-glass account/), {
      target: { value: 'breakglass@contoso.onmicrosoft.com' },
    })
    await fireEvent.click(within(form).getByRole('button', { name: 'Save profile' }))

    await waitFor(() => expect(item(container, ID)).toBeTruthy())
    expect(sent).toHaveLength(1)
    expect(sent[0].credential).toEqual({ kind: 'clientSecret', secret: SECRET })
    expect(sent[0].draft).toMatchObject({
      displayName: 'Contoso',
      cloud: 'usGovGccHigh',
      authMethod: 'clientSecret',
      breakGlassUpn: 'breakglass@contoso.onmicrosoft.com',
      signedInAdminUpn: null,
      baseUrl: null,
    })
    expect(JSON.stringify(sent[0].draft), 'the secret travels only in the credential').not.toContain(SECRET)
    expect(container.innerHTML, 'the secret is not on screen after saving').not.toContain(SECRET)
    expect(inputValues(container), 'no field still holds the secret').not.toContain(SECRET)

    // Editing shows an empty secret field and keeps the stored secret unless a new one is typed.
    let update: CredentialInput | null = null
    backend.updateProfile = async (_id, _draft, credential) => {
      update = credential
      return { status: 'ok', data: profile() }
    }
    await fireEvent.click(within(item(container, ID)).getByRole('button', { name: 'Edit' }))
    const again = screen.getByLabelText(/^Client secret/, { selector: 'input[type=password]' }) as HTMLInputElement
    expect(again.value).toBe('')
    await fireEvent.click(screen.getByRole('button', { name: 'Save profile' }))
    await waitFor(() => expect(update).toEqual({ kind: 'keep' }))
    expect(container.innerHTML).not.toContain(SECRET)
    expect(inputValues(container)).not.toContain(SECRET)
  })

  it('renders hostile profile names and tenants as text', async () => {
    const hostile = '<img src=x onerror="window.pwned=1">Contoso'
    const { backend } = withProfiles([profile({ displayName: hostile, tenant: '<b>x</b>.example', breakGlassUpn: '<script>a</script>@x.y' })])
    const { container } = mount(backend)
    expect((await screen.findByText(hostile)).tagName).toBe('STRONG')
    expect(container.querySelector('img')).toBeNull()
    expect(container.querySelector('li b')).toBeNull()
    expect(container.querySelector('li script')).toBeNull()
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined()
  })

  it('deletes only after the name is typed, with Cancel focused first', async () => {
    const deleted: string[] = []
    const { store, backend } = withProfiles([profile({ displayName: 'Contoso <prod>' })], {
      deleteProfile: async (id) => {
        deleted.push(id)
        store.profiles = store.profiles.filter((p) => p.id !== id)
        return { status: 'ok', data: null }
      },
    })
    const { container } = mount(backend)
    await screen.findByText('Contoso <prod>')
    await fireEvent.click(within(item(container, ID)).getByRole('button', { name: 'Delete…' }))
    const dialog = await screen.findByRole('alertdialog')
    const cancel = within(dialog).getByRole('button', { name: 'Cancel' })
    await waitFor(() => expect(document.activeElement).toBe(cancel))
    const confirm = within(dialog).getByRole('button', { name: 'Delete profile' }) as HTMLButtonElement
    expect(confirm.disabled, 'nothing destructive is one click away').toBe(true)

    await fireEvent.input(within(dialog).getByLabelText('Type the profile name to confirm'), { target: { value: 'Contoso' } })
    expect(confirm.disabled).toBe(true)
    await fireEvent.click(cancel)
    expect(screen.queryByRole('alertdialog')).toBeNull()
    expect(deleted).toEqual([])

    await fireEvent.click(within(item(container, ID)).getByRole('button', { name: 'Delete…' }))
    const again = await screen.findByRole('alertdialog')
    await fireEvent.input(within(again).getByLabelText('Type the profile name to confirm'), {
      target: { value: 'Contoso <prod>' },
    })
    await fireEvent.click(within(again).getByRole('button', { name: 'Delete profile' }))
    await waitFor(() => expect(deleted).toEqual([ID]))
    await waitFor(() => expect(container.querySelector(`li[data-profile-id="${ID}"]`)).toBeNull())
  })

  it('shows the certificate thumbprint and where its .cer was saved, with upload instructions', async () => {
    const { backend } = withProfiles(
      [profile({ authMethod: 'certificate', certificate: { thumbprint: 'A1B2C3', notAfter: null } })],
      { exportCertificate: async (id) => ({ status: 'ok', data: { path: `/data/certificates/firebreak-${id}.cer` } }) },
    )
    mount(backend)
    expect((await screen.findByTestId('certificate-thumbprint')).textContent).toBe('A1B2C3')
    await fireEvent.click(screen.getByRole('button', { name: 'Save certificate (.cer)' }))
    expect((await screen.findByTestId('certificate-path')).textContent).toBe(`/data/certificates/firebreak-${ID}.cer`)
    expect(screen.getByText(/Upload certificate/)).toBeTruthy()
  })

  it('asks for a new certificate when a profile is created with the certificate method', async () => {
    let credential: CredentialInput | null = null
    const { backend } = withProfiles([], {
      createProfile: async (_draft, c) => {
        credential = c
        return { status: 'error', error: { kind: 'invalid', message: 'Enter the tenant id (a GUID) or its primary domain.' } }
      },
    })
    mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Add a profile' }))
    expect((screen.getByLabelText(/^Certificate/) as HTMLInputElement).checked, 'certificate is preselected').toBe(true)
    await fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'Fabrikam' } })
    await fireEvent.input(screen.getByLabelText('Tenant id or primary domain'), { target: { value: 'fabrikam' } })
    await fireEvent.input(screen.getByLabelText(/Application \(client\) id/), {
      target: { value: '6e7b768e-07e2-4810-8459-485f84f8f204' },
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Save profile' }))
    expect((await screen.findByRole('alert')).textContent).toContain('primary domain')
    expect(credential).toEqual({ kind: 'generateCertificate' })
  })

  it('tests a connection and shows each resource', async () => {
    const { backend } = withProfiles([], {
      testProfile: async (id) => ({
        status: 'ok',
        data: {
          profileId: id,
          ok: false,
          resources: [
            { resource: 'Microsoft Graph', ok: true, error: null },
            { resource: 'Exchange Online', ok: false, error: 'AADSTS7000215: invalid client secret.' },
          ],
        },
      }),
    })
    mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Test connection' }))
    const result = await screen.findByTestId('test-result')
    expect(result.textContent).toContain('Microsoft Graph: signed in')
    expect(result.textContent).toContain('Exchange Online: AADSTS7000215: invalid client secret.')
  })

  it('signs a device-code profile in, showing the code large with a copy button', async () => {
    let finish: (() => void) | null = null
    const prompt: DeviceCodePrompt = {
      userCode: 'FBK7Q2LM',
      verificationUri: 'https://microsoft.com/devicelogin',
      message: 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FBK7Q2LM.',
      expiresInSecs: 900,
    }
    const { backend } = withProfiles(
      [profile({ authMethod: 'deviceCode', signedInAdminUpn: 'breakglass@contoso.onmicrosoft.com' })],
      {
        signInWithDeviceCode: (_id, onPrompt) =>
          new Promise((resolve) => {
            onPrompt(prompt)
            finish = () => resolve({ status: 'ok', data: null })
          }),
      },
    )
    const copied: string[] = []
    Object.defineProperty(navigator, 'clipboard', {
      value: { writeText: async (t: string) => void copied.push(t) },
      configurable: true,
    })
    mount(backend)
    await fireEvent.click(await screen.findByRole('button', { name: 'Sign in with a device code' }))
    expect((await screen.findByTestId('device-code')).textContent).toBe('FBK7Q2LM')
    expect(screen.getByTestId('device-uri').textContent).toBe('https://microsoft.com/devicelogin')
    await fireEvent.click(screen.getByRole('button', { name: 'Copy code' }))
    await waitFor(() => expect(copied).toEqual(['FBK7Q2LM']))
    finish!()
    expect(await screen.findByText(/Signed in\. The session lasts until Firebreak closes\./)).toBeTruthy()
    expect(screen.queryByTestId('device-code')).toBeNull()
  })

  it('shows a sign-in held from earlier in this run as signed in', async () => {
    const { backend } = withProfiles([
      profile({ authMethod: 'deviceCode', signedInAdminUpn: 'admin@contoso.onmicrosoft.com', signedIn: true }),
    ])
    mount(backend)
    expect(await screen.findByText(/Signed in\./)).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Sign in with a device code' })).toBeNull()
  })
})
