from docmigrate import StepContext, downgrade, upgrade


@upgrade("1", "2", each="/recipes")          # per record: called once per recipe
def add_servings(recipe: dict, context: StepContext) -> dict:
    for key, value in context.defaults().items():   # {"servings": 4}, from 2.schema.json
        recipe.setdefault(key, value)
    return recipe


@downgrade("2", "1", each="/recipes", drops=["/servings"])
def drop_servings(recipe: dict) -> dict:
    recipe.pop("servings", None)
    return recipe
