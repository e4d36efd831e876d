package profile

import "strings"

// AccessType is how the platform uses the API for a profile's entity, the
// later contracts' word for the seed's relationship.
type AccessType string

// The access types, and the server's default.
const (
	AccessApplication AccessType = "application" // an individual end-user of the platform's product
	AccessPassthrough AccessType = "passthrough" // a company the platform resells Claude access to
	DefaultAccessType            = AccessApplication
)

// AccessTypes returns every access type.
func AccessTypes() []AccessType { return []AccessType{AccessApplication, AccessPassthrough} }

// AccessTypeOf translates a seed relationship; ok is false for internal,
// which has no equivalent (the platform's own usage belongs in a separate
// organization), and for values that are no relationship.
func AccessTypeOf(relationship string) (a AccessType, ok bool) {
	switch relationship {
	case RelationshipExternal:
		return AccessApplication, true
	case RelationshipResold:
		return AccessPassthrough, true
	}
	return "", false
}

// Relationship translates an access type into the seed's vocabulary; ok is
// false for a value that is no access type.
func (a AccessType) Relationship() (relationship string, ok bool) {
	switch a {
	case AccessApplication:
		return RelationshipExternal, true
	case AccessPassthrough:
		return RelationshipResold, true
	}
	return "", false
}

// Relationships returns every relationship of the seed's contract.
func Relationships() []string {
	return []string{RelationshipExternal, RelationshipResold, RelationshipInternal}
}

// AccountStatus is the platform's own decision about a user's account.
type AccountStatus string

// The account statuses.
const (
	AccountActive    AccountStatus = "active"
	AccountSuspended AccountStatus = "suspended"
	AccountBlocked   AccountStatus = "blocked"
)

// AccountStatuses returns every account status.
func AccountStatuses() []AccountStatus {
	return []AccountStatus{AccountActive, AccountSuspended, AccountBlocked}
}

// EntityType is what kind of entity a profile represents.
type EntityType string

// The entity types.
const (
	EntityIndividual EntityType = "individual"
	EntityBusiness   EntityType = "business"
	EntityNonProfit  EntityType = "non_profit"
	EntityGovernment EntityType = "government"
)

// EntityTypes returns every entity type.
func EntityTypes() []EntityType {
	return []EntityType{EntityIndividual, EntityBusiness, EntityNonProfit, EntityGovernment}
}

// Vocabulary returns the values a field with a closed set of values takes
// (relationship, access_type, account_status, entity_type), or nil for any
// other field. It lets a mapping's value table be checked when it is parsed.
func Vocabulary(field string) []string {
	switch field {
	case "relationship":
		return Relationships()
	case "access_type":
		return words(AccessTypes())
	case "account_status":
		return words(AccountStatuses())
	case "entity_type":
		return words(EntityTypes())
	}
	return nil
}

func words[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// oneOf renders a vocabulary for a message: "a, b or c".
func oneOf(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}
