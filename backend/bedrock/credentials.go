package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CredentialOptions say where AWS credentials come from. Every field is optional; the config
// package fills them from Strata's settings (AWS_ACCESS_KEY_ID, AWS_ROLE_ARN, ...).
type CredentialOptions struct {
	// Region is the region to call; empty takes the SDK's (AWS_REGION, the profile), else us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey are static keys, with SessionToken for temporary ones.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile names a shared config profile (AWS_PROFILE).
	Profile string
	// RoleARN is a role to assume with the other credentials, or with WebIdentityTokenFile.
	RoleARN string
	// SessionName names the role session; empty means "strata".
	SessionName string
	// ExternalID is the external id the role's trust policy asks for, if any.
	ExternalID string
	// WebIdentityTokenFile is an OIDC token file (Kubernetes IRSA), exchanged for RoleARN.
	WebIdentityTokenFile string
	// STSEndpoint overrides the STS endpoint used to assume roles (a VPC endpoint, a test server).
	STSEndpoint string
	// HTTPClient carries the STS calls Strata makes to assume a role; nil uses the SDK's. The
	// SDK's default chain always uses its own client, which honours AWS_CA_BUNDLE (the SDK
	// refuses a custom bundle with a plain *http.Client).
	HTTPClient *http.Client
}

// DefaultSessionName names assumed-role sessions when CredentialOptions.SessionName is empty, so
// CloudTrail shows which calls Strata made.
const DefaultSessionName = "strata"

// LoadCredentials resolves where credentials come from, once, and returns a provider that the
// SDK's cache refreshes before they expire; it is never called per request.
//
// The source is, in order: static keys (with their session token); a web identity token file with
// RoleARN (IRSA); the named profile; else the SDK's default chain (environment, shared config,
// web identity, ECS/EKS container credentials, EC2 instance role). With RoleARN (and no web
// identity token), that source then assumes the role through STS, with SessionName and
// ExternalID. The region is Region, else the SDK's, else us-east-1.
//
// LoadCredentials makes no call to AWS: the first request (or a health check's Retrieve) fetches
// credentials. Neither it nor its errors ever show a secret.
func LoadCredentials(ctx context.Context, o CredentialOptions) (aws.CredentialsProvider, string, error) {
	static := o.AccessKeyID != "" || o.SecretAccessKey != ""
	if static && (o.AccessKeyID == "" || o.SecretAccessKey == "") {
		return nil, "", errors.New("aws credentials: set both the access key id and the secret access key, or neither")
	}
	if o.SessionToken != "" && !static {
		return nil, "", errors.New("aws credentials: a session token needs the access key id and secret access key it belongs to")
	}
	webIdentity := o.WebIdentityTokenFile != "" && !static
	if webIdentity && o.RoleARN == "" {
		return nil, "", errors.New("aws credentials: a web identity token file needs a role ARN to exchange it for")
	}
	region := o.Region
	session := o.SessionName
	if session == "" {
		session = DefaultSessionName
	}

	var base aws.CredentialsProvider
	var cfg aws.Config
	if !static && !webIdentity || region == "" {
		var loadOpts []func(*config.LoadOptions) error
		if o.Region != "" {
			loadOpts = append(loadOpts, config.WithRegion(o.Region))
		}
		if o.Profile != "" {
			loadOpts = append(loadOpts, config.WithSharedConfigProfile(o.Profile))
		}
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, loadOpts...); err != nil {
			return nil, "", fmt.Errorf("aws credentials: load the shared configuration: %w", err)
		}
		if region == "" {
			region = cfg.Region
		}
	}
	if region == "" {
		region = DefaultRegion
	}

	stsClient := func(creds aws.CredentialsProvider) *sts.Client {
		so := sts.Options{Region: region, Credentials: creds}
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
		if o.STSEndpoint != "" {
			so.BaseEndpoint = aws.String(o.STSEndpoint)
		}
		return sts.New(so)
	}

	switch {
	case static:
		base = credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)
	case webIdentity:
		// AssumeRoleWithWebIdentity is unsigned: the token file is the credential.
		base = stscreds.NewWebIdentityRoleProvider(stsClient(nil), o.RoleARN, stscreds.IdentityTokenFile(o.WebIdentityTokenFile),
			func(w *stscreds.WebIdentityRoleOptions) { w.RoleSessionName = session })
	default:
		if cfg.Credentials == nil {
			return nil, "", errors.New("aws credentials: none found: set keys, a profile, a role or a web identity token, or run where the SDK's default chain finds some")
		}
		base = cfg.Credentials
	}
	if o.RoleARN != "" && !webIdentity {
		base = stscreds.NewAssumeRoleProvider(stsClient(base), o.RoleARN, func(a *stscreds.AssumeRoleOptions) {
			a.RoleSessionName = session
			if o.ExternalID != "" {
				a.ExternalID = aws.String(o.ExternalID)
			}
		})
	}
	if _, cached := base.(*aws.CredentialsCache); !cached {
		base = aws.NewCredentialsCache(base)
	}
	return base, region, nil
}
