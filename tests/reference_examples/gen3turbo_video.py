import requests
assetId = "assetId of video asset"
text_prompt = "text prompt"
apiUrl = f"https://api.useapi.net/v1/runwayml/gen3turbo/video"
token = "API token"
headers = {
    "Content-Type": "application/json",
    "Authorization" : f"Bearer {token}"
}
body = {
    "assetId": f"{assetId}",
    "text_prompt": f"{text_prompt}"
}
response = requests.post(apiUrl, headers=headers, json=body)
print(response, response.json())
