import { render, screen, fireEvent } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import type { Backend, OrganisationInput } from '../lib/backend'
import { emptyOrganisation, fakeBackend } from '../test/fakeBackend'
import Host from '../test/Host.svelte'
import Organisation from './Organisation.svelte'

function mount(backend: Backend) {
  return render(Host, { backend, component: Organisation })
}

describe('Organisation settings', () => {
  it('shows the stored details and saves what the admin typed', async () => {
    const stored = emptyOrganisation()
    stored.name = 'Contoso'
    stored.contacts.privacyLead = { name: 'Dana', phone: '+49 30 1', email: 'dpo@contoso.example' }
    let sent: OrganisationInput | null = null
    mount(
      fakeBackend({
        getOrganisation: async () => ({ status: 'ok', data: stored }),
        saveOrganisation: async (o) => {
          sent = o
          return { status: 'ok', data: { ...stored, ...o, nis2Applies: o.nis2Applies ?? null } }
        },
      }),
    )
    const name = (await screen.findByLabelText('Organisation name')) as HTMLInputElement
    expect(name.value).toBe('Contoso')
    expect((screen.getByLabelText('Privacy lead / DPO: name') as HTMLInputElement).value).toBe('Dana')

    await fireEvent.input(screen.getByLabelText('Finance: phone'), { target: { value: '+44 20 7946 0999' } })
    await fireEvent.input(screen.getByLabelText(/Break-glass accounts/), {
      target: { value: ' bg1@contoso.onmicrosoft.com \n\n bg2@contoso.onmicrosoft.com' },
    })
    await fireEvent.change(screen.getByLabelText('Does NIS2 apply to you?'), { target: { value: 'yes' } })
    await fireEvent.click(screen.getByLabelText('US Letter'))
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))

    expect(await screen.findByRole('status')).toHaveProperty('textContent', 'Saved.')
    expect(sent).not.toBeNull()
    const input = sent as unknown as OrganisationInput
    expect(input.contacts.finance.phone).toBe('+44 20 7946 0999')
    expect(input.breakGlassAccounts).toEqual(['bg1@contoso.onmicrosoft.com', 'bg2@contoso.onmicrosoft.com'])
    expect(input.nis2Applies).toBe(true)
    expect(input.paper).toBe('letter')
  })

  it('shows why a save was refused and keeps what was typed', async () => {
    mount(
      fakeBackend({
        saveOrganisation: async () => ({
          status: 'error',
          error: { kind: 'failed', message: '"Break glass" is not a user principal name.' },
        }),
      }),
    )
    const name = (await screen.findByLabelText('Organisation name')) as HTMLInputElement
    await fireEvent.input(name, { target: { value: 'Fabrikam' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect((await screen.findByRole('alert')).textContent).toContain('not a user principal name')
    expect(name.value).toBe('Fabrikam')
  })

  it('renders stored names as text, never as markup', async () => {
    const stored = emptyOrganisation()
    stored.name = '<img src=x onerror="window.pwned=1">'
    const { container } = mount(fakeBackend({ getOrganisation: async () => ({ status: 'ok', data: stored }) }))
    const name = (await screen.findByLabelText('Organisation name')) as HTMLInputElement
    expect(name.value).toBe(stored.name)
    expect(container.querySelector('img')).toBeNull()
  })
})
