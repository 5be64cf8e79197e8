//! The properties each answer must carry. Microsoft's description marks no property required, so
//! a schema check alone accepts an answer that lost a property or spelt it wrong. These lists are
//! the properties shown in the response example of each operation's documentation page (cited per
//! list; the pages live in microsoftgraph/microsoft-graph-docs-contrib under
//! `api-reference/<version>/api/`). A request with `$select` must carry exactly the selected
//! properties instead (Graph answers a selected property it has no value for as `null`).
//!
//! Where a documentation example misspells a property (`creationDateTime` on the FIDO2, password
//! and platform-credential examples) the description's spelling is required and the slip is noted
//! here. Polymorphic collections (authentication methods, directory objects) are checked item by
//! item against the list of the item's own `@odata.type`.

/// What one operation answers: the entity type of the body (or of each item of `value`).
pub struct Answer {
    pub method: &'static str,
    /// The operation's path template, as in the description.
    pub template: &'static str,
    pub entity: &'static str,
    pub collection: bool,
}

const fn answer(
    method: &'static str,
    template: &'static str,
    entity: &'static str,
    collection: bool,
) -> Answer {
    Answer {
        method,
        template,
        entity,
        collection,
    }
}

/// Every operation of the description that answers entities, with the type it answers.
pub const ANSWERS: &[Answer] = &[
    answer("GET", "/users", "microsoft.graph.user", true),
    answer("GET", "/users/{user-id}", "microsoft.graph.user", false),
    answer("GET", "/me", "microsoft.graph.user", false),
    answer("GET", "/users/{user-id}/memberOf", "microsoft.graph.directoryObject", true),
    answer("GET", "/users/{user-id}/ownedObjects", "microsoft.graph.directoryObject", true),
    answer("GET", "/users/{user-id}/appRoleAssignments", "microsoft.graph.appRoleAssignment", true),
    answer("GET", "/users/{user-id}/oauth2PermissionGrants", "microsoft.graph.oAuth2PermissionGrant", true),
    answer("GET", "/oauth2PermissionGrants", "microsoft.graph.oAuth2PermissionGrant", true),
    answer("GET", "/oauth2PermissionGrants/{oAuth2PermissionGrant-id}", "microsoft.graph.oAuth2PermissionGrant", false),
    answer("GET", "/servicePrincipals/{servicePrincipal-id}", "microsoft.graph.servicePrincipal", false),
    answer("GET", "/servicePrincipals/{servicePrincipal-id}/appRoleAssignments", "microsoft.graph.appRoleAssignment", true),
    answer("GET", "/servicePrincipals/{servicePrincipal-id}/appRoleAssignedTo", "microsoft.graph.appRoleAssignment", true),
    answer("GET", "/users/{user-id}/authentication/methods", "microsoft.graph.authenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/methods/{authenticationMethod-id}", "microsoft.graph.authenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/phoneMethods", "microsoft.graph.phoneAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/phoneMethods/{phoneAuthenticationMethod-id}", "microsoft.graph.phoneAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/emailMethods", "microsoft.graph.emailAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/emailMethods/{emailAuthenticationMethod-id}", "microsoft.graph.emailAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/fido2Methods", "microsoft.graph.fido2AuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/fido2Methods/{fido2AuthenticationMethod-id}", "microsoft.graph.fido2AuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/microsoftAuthenticatorMethods", "microsoft.graph.microsoftAuthenticatorAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/microsoftAuthenticatorMethods/{microsoftAuthenticatorAuthenticationMethod-id}", "microsoft.graph.microsoftAuthenticatorAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/softwareOathMethods", "microsoft.graph.softwareOathAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/softwareOathMethods/{softwareOathAuthenticationMethod-id}", "microsoft.graph.softwareOathAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/temporaryAccessPassMethods", "microsoft.graph.temporaryAccessPassAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/temporaryAccessPassMethods/{temporaryAccessPassAuthenticationMethod-id}", "microsoft.graph.temporaryAccessPassAuthenticationMethod", false),
    answer("POST", "/users/{user-id}/authentication/temporaryAccessPassMethods", "microsoft.graph.temporaryAccessPassAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/windowsHelloForBusinessMethods", "microsoft.graph.windowsHelloForBusinessAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/windowsHelloForBusinessMethods/{windowsHelloForBusinessAuthenticationMethod-id}", "microsoft.graph.windowsHelloForBusinessAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/passwordMethods", "microsoft.graph.passwordAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/passwordMethods/{passwordAuthenticationMethod-id}", "microsoft.graph.passwordAuthenticationMethod", false),
    answer("GET", "/users/{user-id}/authentication/platformCredentialMethods", "microsoft.graph.platformCredentialAuthenticationMethod", true),
    answer("GET", "/users/{user-id}/authentication/platformCredentialMethods/{platformCredentialAuthenticationMethod-id}", "microsoft.graph.platformCredentialAuthenticationMethod", false),
    answer("GET", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{authenticationMethodConfiguration-id}", "microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", false),
    answer("GET", "/users/{user-id}/mailboxSettings", "microsoft.graph.mailboxSettings", false),
    answer("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messageRules", "microsoft.graph.messageRule", true),
    answer("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messageRules/{messageRule-id}", "microsoft.graph.messageRule", false),
    answer("GET", "/users/{user-id}/mailFolders/{mailFolder-id}/messages", "microsoft.graph.message", true),
    answer("GET", "/auditLogs/signIns", "microsoft.graph.signIn", true),
    answer("GET", "/auditLogs/directoryAudits", "microsoft.graph.directoryAudit", true),
    answer("GET", "/identityProtection/riskyUsers", "microsoft.graph.riskyUser", true),
    answer("GET", "/identityProtection/riskyUsers/{riskyUser-id}", "microsoft.graph.riskyUser", false),
    answer("GET", "/identityProtection/riskDetections", "microsoft.graph.riskDetection", true),
    answer("GET", "/security/incidents", "microsoft.graph.security.incident", true),
    answer("GET", "/security/incidents/{incident-id}", "microsoft.graph.security.incident", false),
    answer("GET", "/security/alerts_v2", "microsoft.graph.security.alert", true),
    answer("GET", "/security/alerts_v2/{alert-id}", "microsoft.graph.security.alert", false),
    answer("GET", "/security/auditLog/queries", "microsoft.graph.security.auditLogQuery", true),
    answer("GET", "/security/auditLog/queries/{auditLogQuery-id}", "microsoft.graph.security.auditLogQuery", false),
    answer("POST", "/security/auditLog/queries", "microsoft.graph.security.auditLogQuery", false),
    answer("GET", "/security/auditLog/queries/{auditLogQuery-id}/records", "microsoft.graph.security.auditLogRecord", true),
];

/// The properties an entity of one type must carry when no `$select` narrows it, and the page
/// whose response example lists them.
pub struct Required {
    pub entity: &'static str,
    pub props: &'static [&'static str],
    pub source: &'static str,
}

/// Per type (each shared by the list and get operations of that type, whose examples agree).
pub const REQUIRED: &[Required] = &[
    Required {
        entity: "microsoft.graph.user",
        // The default properties Graph returns without $select.
        props: &["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"],
        source: "v1.0/api/user-get.md, example 1 (also user-list.md)",
    },
    Required {
        entity: "microsoft.graph.group",
        props: &["id", "displayName", "mailEnabled", "securityEnabled"],
        source: "v1.0/api/user-list-memberof.md, example 1",
    },
    Required {
        entity: "microsoft.graph.directoryRole",
        props: &["id", "description", "displayName", "roleTemplateId"],
        source: "v1.0/api/directoryrole-get.md",
    },
    Required {
        entity: "microsoft.graph.appRoleAssignment",
        props: &["id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType", "resourceDisplayName", "resourceId"],
        source: "v1.0/api/user-list-approleassignments.md, example 1 (also serviceprincipal-list-approleassignedto.md)",
    },
    Required {
        entity: "microsoft.graph.oAuth2PermissionGrant",
        props: &["clientId", "consentType", "id", "principalId", "resourceId", "scope"],
        source: "v1.0/api/oauth2permissiongrant-get.md",
    },
    Required {
        entity: "microsoft.graph.servicePrincipal",
        // The example also shows publisherName (not a v1.0 property in the description or in
        // the current metadata) and the navigation property endpoints; neither is required.
        props: &["accountEnabled", "addIns", "alternativeNames", "appDisplayName", "appId", "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles", "disabledByMicrosoftStatus", "displayName", "homepage", "id", "verifiedPublisher", "info", "keyCredentials", "logoutUrl", "oauth2PermissionScopes", "passwordCredentials", "replyUrls", "resourceSpecificApplicationPermissions", "servicePrincipalNames", "servicePrincipalType", "signInAudience", "tags", "tokenEncryptionKeyId"],
        source: "v1.0/api/serviceprincipal-get.md, example 1",
    },
    Required {
        entity: "microsoft.graph.phoneAuthenticationMethod",
        props: &["id", "phoneNumber", "phoneType", "smsSignInState"],
        source: "v1.0/api/phoneauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.emailAuthenticationMethod",
        props: &["id", "emailAddress"],
        source: "v1.0/api/emailauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.fido2AuthenticationMethod",
        // The example spells createdDateTime "creationDateTime"; the description's name is kept.
        props: &["id", "displayName", "createdDateTime", "aaGuid", "model", "attestationCertificates", "attestationLevel"],
        source: "v1.0/api/fido2authenticationmethod-get.md (also authentication-list-methods.md)",
    },
    Required {
        entity: "microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
        props: &["id", "displayName", "deviceTag", "phoneAppVersion", "createdDateTime"],
        source: "v1.0/api/microsoftauthenticatorauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.softwareOathAuthenticationMethod",
        props: &["id", "secretKey"],
        source: "v1.0/api/softwareoathauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.temporaryAccessPassAuthenticationMethod",
        props: &["id", "temporaryAccessPass", "createdDateTime", "startDateTime", "lifetimeInMinutes", "isUsableOnce", "isUsable", "methodUsabilityReason"],
        source: "v1.0/api/temporaryaccesspassauthenticationmethod-get.md (the create example, authentication-post-temporaryaccesspassmethods.md, shows the same)",
    },
    Required {
        entity: "microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        props: &["id", "state", "defaultLifetimeInMinutes", "defaultLength", "minimumLifetimeInMinutes", "maximumLifetimeInMinutes", "isUsableOnce", "includeTargets", "excludeTargets"],
        source: "v1.0/api/temporaryaccesspassauthenticationmethodconfiguration-get.md",
    },
    Required {
        entity: "microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
        props: &["id", "displayName", "createdDateTime", "keyStrength"],
        source: "v1.0/api/windowshelloforbusinessauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.passwordAuthenticationMethod",
        // The example spells createdDateTime "creationDateTime"; the description's name is kept.
        props: &["id", "password", "createdDateTime"],
        source: "v1.0/api/passwordauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.platformCredentialAuthenticationMethod",
        // The example spells createdDateTime "creationDateTime"; the description's name is kept.
        props: &["id", "displayName", "createdDateTime"],
        source: "beta/api/platformcredentialauthenticationmethod-get.md",
    },
    Required {
        entity: "microsoft.graph.mailboxSettings",
        props: &["automaticRepliesSetting", "timeZone", "language", "workingHours", "userPurpose", "dateFormat", "timeFormat", "delegateMeetingMessageDeliveryOptions"],
        source: "v1.0/api/user-get-mailboxsettings.md, example 1",
    },
    Required {
        entity: "microsoft.graph.messageRule",
        props: &["id", "displayName", "sequence", "isEnabled", "hasError", "isReadOnly", "conditions", "actions"],
        source: "v1.0/api/messagerule-get.md (also mailfolder-list-messagerules.md)",
    },
    Required {
        entity: "microsoft.graph.message",
        // The example also shows body and bodyPreview, which need Mail.Read (Mail.ReadBasic
        // answers without them).
        props: &["id", "receivedDateTime", "sentDateTime", "hasAttachments", "subject"],
        source: "v1.0/api/mailfolder-list-messages.md",
    },
    Required {
        entity: "microsoft.graph.signIn",
        props: &["id", "createdDateTime", "userDisplayName", "userPrincipalName", "userId", "appId", "appDisplayName", "ipAddress", "clientAppUsed", "correlationId", "conditionalAccessStatus", "isInteractive", "riskDetail", "riskLevelAggregated", "riskLevelDuringSignIn", "riskState", "riskEventTypes", "resourceDisplayName", "resourceId", "status", "deviceDetail", "location", "appliedConditionalAccessPolicies"],
        source: "v1.0/api/signin-list.md, examples 1 and 2",
    },
    Required {
        entity: "microsoft.graph.directoryAudit",
        props: &["id", "category", "correlationId", "result", "resultReason", "activityDisplayName", "activityDateTime", "loggedByService", "operationType", "initiatedBy", "targetResources", "additionalDetails"],
        source: "v1.0/api/directoryaudit-list.md, examples 1 and 2",
    },
    Required {
        entity: "microsoft.graph.riskyUser",
        props: &["id", "isDeleted", "isProcessing", "riskLastUpdatedDateTime", "riskLevel", "riskState", "riskDetail", "userDisplayName", "userPrincipalName"],
        source: "v1.0/api/riskyuser-list.md",
    },
    Required {
        entity: "microsoft.graph.riskDetection",
        props: &["id", "requestId", "correlationId", "riskEventType", "riskState", "riskLevel", "riskDetail", "source", "detectionTimingType", "activity", "tokenIssuerType", "ipAddress", "location", "activityDateTime", "detectedDateTime", "lastUpdatedDateTime", "userId", "userDisplayName", "userPrincipalName", "additionalInfo"],
        source: "v1.0/api/riskdetection-list.md",
    },
    Required {
        entity: "microsoft.graph.security.incident",
        props: &["id", "incidentWebUrl", "redirectIncidentId", "displayName", "tenantId", "createdDateTime", "lastUpdateDateTime", "assignedTo", "classification", "determination", "status", "severity", "customTags", "comments", "systemTags", "description"],
        source: "v1.0/api/security-incident-get.md",
    },
    Required {
        entity: "microsoft.graph.security.alert",
        props: &["id", "providerAlertId", "incidentId", "status", "severity", "classification", "determination", "serviceSource", "detectionSource", "detectorId", "tenantId", "title", "description", "recommendedActions", "category", "assignedTo", "alertWebUrl", "incidentWebUrl", "actorDisplayName", "threatDisplayName", "threatFamilyName", "mitreTechniques", "createdDateTime", "lastUpdateDateTime", "resolvedDateTime", "firstActivityDateTime", "lastActivityDateTime", "comments", "evidence", "systemTags"],
        source: "v1.0/api/security-alert-get.md",
    },
    Required {
        entity: "microsoft.graph.security.auditLogQuery",
        // The example spells recordTypeFilters and serviceFilters in the singular; the
        // description (and Microsoft's metadata) name the collections in the plural.
        props: &["id", "displayName", "filterStartDateTime", "filterEndDateTime", "recordTypeFilters", "keywordFilter", "serviceFilters", "operationFilters", "userPrincipalNameFilters", "ipAddressFilters", "objectIdFilters", "administrativeUnitIdFilters", "status"],
        source: "beta/api/security-auditlogquery-get.md",
    },
    Required {
        entity: "microsoft.graph.security.auditLogRecord",
        props: &["id", "createdDateTime", "auditLogRecordType", "operation", "organizationId", "userType", "userId", "service", "objectId", "userPrincipalName", "clientIp", "administrativeUnits", "auditData"],
        source: "beta/api/security-auditlogquery-list-records.md",
    },
];

/// The operation a route template answers, if it answers entities.
pub fn answer_of(method: &str, template: &str) -> Option<&'static Answer> {
    ANSWERS
        .iter()
        .find(|a| a.method == method && a.template == template)
}

/// The required properties of a type.
pub fn required_of(entity: &str) -> Option<&'static Required> {
    REQUIRED.iter().find(|r| r.entity == entity)
}
