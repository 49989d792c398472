package emulator

// words and sentences are the emulator's vocabulary: neutral English that reads like a model's
// answer and tokenizes like one.
var words = []string{
	"alpha", "amber", "anchor", "answer", "apple", "arch", "atlas", "autumn", "balance", "beacon",
	"birch", "bridge", "bright", "canyon", "cedar", "center", "circle", "clear", "cloud", "coast",
	"copper", "coral", "crystal", "delta", "design", "detail", "ember", "engine", "field", "forest",
	"garden", "glacier", "granite", "harbor", "horizon", "island", "journey", "lantern", "ledger", "light",
	"maple", "marble", "meadow", "method", "mirror", "motion", "north", "ocean", "orbit", "pattern",
	"pebble", "pine", "planet", "prairie", "quartz", "river", "signal", "silver", "summit", "thunder",
}

var sentences = []string{
	"Here is a short answer to your question.",
	"The main point is simple and worth stating clearly.",
	"There are a few things to keep in mind.",
	"First, consider the context in which the question arises.",
	"Second, the details matter more than they first appear to.",
	"In practice, a careful step-by-step approach works best.",
	"This is a common question, and the answer depends on the situation.",
	"A good rule of thumb is to start small and check each result.",
	"Most people find that the simplest option is also the most reliable.",
	"If anything is unclear, a follow-up question can narrow it down.",
	"The evidence points in one direction, though there are exceptions.",
	"To summarize, the approach above should cover the usual cases.",
	"Let me know if you would like more detail on any part of this.",
	"Each of these steps can be checked independently.",
	"The trade-off is between speed and thoroughness.",
	"It helps to write the steps down before starting.",
}

var reasoningSentences = []string{
	"The user is asking a direct question, so a direct answer fits.",
	"Let me think about what matters most here.",
	"There may be more than one reasonable interpretation.",
	"I should keep the answer short and accurate.",
	"A structured answer will be easier to follow.",
	"I will check the main cases before answering.",
	"Nothing in the request calls for a tool or outside data.",
	"The safest reading is the most literal one.",
}
